//! Anti-replay for application transaction counters (ATC): the highest ATC seen per token
//! plus a bitmap of the [`ATC_WINDOW_SIZE`] ATCs below it. Two QR codes made in a row may
//! be used out of order, but never twice.

/// How many ATCs below the highest one are still accepted (once each).
pub const ATC_WINDOW_SIZE: u32 = 64;

/// The replay state of one token. `high == None` before the first cryptogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AtcWindow {
    pub high: Option<u16>,
    /// Bit `i` set: ATC `high - i` was used (bit 0 is `high` itself).
    pub seen: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtcRefusal {
    /// This ATC was used before.
    Reused,
    /// This ATC is older than the window: it can no longer be told apart from a replay.
    TooOld,
}

impl AtcWindow {
    /// The window after accepting `atc`, or why it is refused.
    pub fn accept(self, atc: u16) -> Result<AtcWindow, AtcRefusal> {
        let Some(high) = self.high else {
            return Ok(AtcWindow { high: Some(atc), seen: 1 });
        };
        if atc > high {
            let shift = u32::from(atc - high);
            let seen = if shift >= ATC_WINDOW_SIZE { 0 } else { self.seen << shift };
            return Ok(AtcWindow { high: Some(atc), seen: seen | 1 });
        }
        let age = u32::from(high - atc);
        if age >= ATC_WINDOW_SIZE {
            return Err(AtcRefusal::TooOld);
        }
        let bit = 1u64 << age;
        if self.seen & bit != 0 {
            return Err(AtcRefusal::Reused);
        }
        Ok(AtcWindow { high: Some(high), seen: self.seen | bit })
    }

    /// Whether `atc` has been accepted (within the window).
    pub fn has_seen(&self, atc: u16) -> bool {
        match self.high {
            Some(high) if atc <= high && u32::from(high - atc) < ATC_WINDOW_SIZE => {
                self.seen & (1u64 << (high - atc)) != 0
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn out_of_order_once_each() {
        let w = AtcWindow::default().accept(5).unwrap();
        let w = w.accept(7).unwrap();
        let w = w.accept(6).unwrap();
        assert_eq!(w.accept(6), Err(AtcRefusal::Reused));
        assert_eq!(w.accept(7), Err(AtcRefusal::Reused));
        assert_eq!(w.accept(5), Err(AtcRefusal::Reused));
        let w = w.accept(4).unwrap();
        assert!(w.has_seen(4) && w.has_seen(7) && !w.has_seen(3));
    }

    #[test]
    fn window_edges() {
        let w = AtcWindow::default().accept(100).unwrap();
        assert!(w.accept(100 - 63).is_ok(), "the oldest ATC still inside the window");
        assert_eq!(w.accept(100 - 64), Err(AtcRefusal::TooOld));
        let far = w.accept(1000).unwrap();
        assert_eq!(far.seen, 1, "a jump past the window forgets it");
        assert_eq!(far.accept(100), Err(AtcRefusal::TooOld));
        assert!(AtcWindow::default().accept(u16::MAX).is_ok());
    }

    proptest! {
        /// Against a model that remembers every ATC: never accepts one twice, and accepts
        /// every fresh ATC inside the window.
        #[test]
        fn matches_a_set_model(atcs in proptest::collection::vec(0u16..300, 1..200)) {
            let mut window = AtcWindow::default();
            let mut used = std::collections::BTreeSet::new();
            for atc in atcs {
                let result = window.accept(atc);
                if used.contains(&atc) {
                    prop_assert!(result.is_err(), "ATC {} accepted twice", atc);
                }
                let fresh_in_window = !used.contains(&atc)
                    && window.high.is_none_or(|h| atc > h || u32::from(h - atc) < ATC_WINDOW_SIZE);
                prop_assert_eq!(result.is_ok(), fresh_in_window, "atc {}", atc);
                if let Ok(next) = result {
                    used.insert(atc);
                    window = next;
                }
            }
        }
    }
}
