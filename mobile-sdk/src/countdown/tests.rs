use proptest::prelude::*;

use super::*;

const T0: i64 = 1_700_000_000_000;

fn qr() -> PaymentWindow {
    PaymentWindow::new(T0, QR_VALIDITY_MS)
}

#[test]
fn expires_exactly_at_generation_plus_validity() {
    let window = qr();
    assert_eq!(window.expires_at_ms(), T0 + 120_000);
    assert!(!window.is_expired(T0 + 119_999));
    assert_eq!(window.remaining_ms(T0 + 119_999), 1);
    assert!(window.is_expired(T0 + 120_000));
    assert_eq!(window.remaining_ms(T0 + 120_000), 0);
    assert_eq!(window.remaining_permille(T0 + 120_000), 0);
    assert_eq!(window.remaining_ms(T0 + 10 * 120_000), 0);
}

#[test]
fn full_at_and_before_generation() {
    let window = qr();
    assert_eq!(window.remaining_ms(T0), 120_000);
    assert_eq!(window.remaining_permille(T0), 1_000);
    // A time before generation never shows more than a full window.
    assert_eq!(window.remaining_ms(T0 - 5_000), 120_000);
    assert_eq!(window.remaining_permille(T0 - 5_000), 1_000);
    assert!(!window.is_expired(T0 - 5_000));
}

#[test]
fn permille_rounds_down() {
    let window = qr();
    // 1 ms gone: 119_999 / 120_000 = 999.99‰, shown as 999.
    assert_eq!(window.remaining_permille(T0 + 1), 999);
    // 1 ms left: 0.008‰, shown as 0 although not yet expired.
    assert_eq!(window.remaining_permille(T0 + 119_999), 0);
    assert_eq!(window.remaining_permille(T0 + 60_000), 500);
    let nfc = PaymentWindow::new(T0, NFC_VALIDITY_MS);
    assert_eq!(nfc.remaining_permille(T0 + 25_001), 583);
}

#[test]
fn degenerate_windows_are_expired_not_panics() {
    for validity in [0, -5, i64::MIN] {
        let window = PaymentWindow::new(T0, validity);
        assert!(window.is_expired(T0));
        assert_eq!(window.remaining_ms(T0), 0);
        assert_eq!(window.remaining_permille(T0), 0);
    }
    let huge = PaymentWindow::new(i64::MAX - 1, i64::MAX);
    assert_eq!(huge.expires_at_ms(), i64::MAX);
    assert_eq!(huge.remaining_permille(0), 1_000);
}

#[test]
fn bar_rendering() {
    assert_eq!(render_bar(1_000, 10), "[##########]");
    assert_eq!(render_bar(420, 10), "[####------]");
    assert_eq!(render_bar(99, 10), "[----------]");
    assert_eq!(render_bar(0, 4), "[----]");
    assert_eq!(render_bar(u16::MAX, 3), "[###]");
    assert_eq!(render_bar(500, 0), "[]");
}

#[test]
fn countdown_text_rounds_seconds_up() {
    let window = qr();
    assert_eq!(window.countdown_text(T0 + 69_600, 10), "[####------] 51s");
    assert_eq!(window.countdown_text(T0 + 119_999, 10), "[----------] 1s");
    assert_eq!(window.countdown_text(T0 + 120_000, 10), "[----------] 0s");
    assert_eq!(window.countdown_text(T0, 5), "[#####] 120s");
}

proptest! {
    #[test]
    fn permille_is_bounded_and_never_increases(
        generated in -1_000_000_000_000i64..4_000_000_000_000,
        validity in -10i64..10_000_000,
        t in -20_000_000i64..20_000_000,
        step in 0i64..20_000_000,
    ) {
        let window = PaymentWindow::new(generated, validity);
        let (earlier, later) = (generated + t, generated + t + step);
        let (first, second) = (window.remaining_permille(earlier), window.remaining_permille(later));
        prop_assert!(first <= 1_000 && second <= 1_000);
        prop_assert!(second <= first, "{first}‰ then {second}‰");
        prop_assert!(window.remaining_ms(later) <= window.remaining_ms(earlier));
        prop_assert_eq!(window.is_expired(later), window.remaining_ms(later) == 0);
    }
}
