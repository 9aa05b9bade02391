//! Draws a QR code in the terminal with Unicode half blocks: one character cell holds two
//! module rows, so a version-10 code fits in a 80×30 terminal.
//!
//! Terminals are mostly light text on a dark background, so *light* modules are drawn
//! as blocks and dark ones as spaces: the code then reads dark-on-light, as scanners
//! expect. `Palette::DarkOnLight` is for light-background terminals.

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// For dark-background terminals (the default): light modules are printed blocks.
    LightOnDark,
    /// For light-background terminals: dark modules are printed blocks.
    DarkOnLight,
}

/// The payment payload as QR text lines (quiet zone included), or `None` when the
/// payload does not fit a QR code, which the EMV payload (< 512 bytes) always does.
pub fn draw(payload: &str, palette: Palette) -> Option<String> {
    // Level M: restores 15 % of a smudged or glare-hit phone screen and keeps the
    // code small enough to fit a terminal window.
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).ok()?;
    let mut renderer = code.render::<Dense1x2>();
    renderer.quiet_zone(true);
    if palette == Palette::LightOnDark {
        renderer.dark_color(Dense1x2::Light).light_color(Dense1x2::Dark);
    }
    Some(renderer.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixels per QR module when the drawing is turned back into a bitmap to decode.
    const SCALE: usize = 4;

    /// Reads the half-block drawing back into module rows (`true` = printed block).
    fn printed_cells(drawing: &str) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in drawing.lines() {
            let cells: Vec<(bool, bool)> = line
                .chars()
                .map(|c| match c {
                    ' ' => (false, false),
                    '\u{2580}' => (true, false),
                    '\u{2584}' => (false, true),
                    '\u{2588}' => (true, true),
                    other => panic!("unexpected character {other:?} in the drawing"),
                })
                .collect();
            rows.push(cells.iter().map(|c| c.0).collect());
            rows.push(cells.iter().map(|c| c.1).collect());
        }
        rows
    }

    /// Decodes a drawing the way a pump's scanner would see the screen.
    fn scan(drawing: &str, dark_is_printed: bool) -> String {
        let modules = printed_cells(drawing);
        let (w, h) = (modules[0].len() * SCALE, modules.len() * SCALE);
        let mut image = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| {
            modules[y / SCALE][x / SCALE] == dark_is_printed
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the drawing");
        grids[0].decode().expect("the drawing decodes").1
    }

    const PAYLOAD: &str = "hQVDUFYwMWFPTwegAAAABBAQUAxGb3JlY291cnQgRnVlbFoIcAGZAAAAAARkKJ8mCBI0VniQq83vnzYCAAefEBIGAQoDpAAAnzcEEjRWeA==";

    #[test]
    fn the_drawing_scans_back_to_the_payload_on_a_dark_terminal() {
        let drawing = draw(PAYLOAD, Palette::LightOnDark).unwrap();
        assert_eq!(scan(&drawing, false), PAYLOAD);
    }

    #[test]
    fn the_drawing_scans_back_to_the_payload_on_a_light_terminal() {
        let drawing = draw(PAYLOAD, Palette::DarkOnLight).unwrap();
        assert_eq!(scan(&drawing, true), PAYLOAD);
    }

    #[test]
    fn a_payload_of_the_largest_size_readers_must_support_still_fits_a_terminal() {
        let payload = "A".repeat(512);
        let drawing = draw(&payload, Palette::LightOnDark).unwrap();
        let width = drawing.lines().next().unwrap().chars().count();
        assert!(width <= 100, "{width} columns");
        assert_eq!(scan(&drawing, false), payload);
    }
}
