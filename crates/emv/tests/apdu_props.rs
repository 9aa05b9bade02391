//! Property tests: every writable short command and response parses back to itself.

use emv::apdu::{Command, Response, StatusWord};
use emv::fuzzing::check_apdu;
use proptest::collection::vec;
use proptest::prelude::*;

fn command() -> impl Strategy<Value = Command> {
    let le = prop_oneof![Just(None), (1u16..=256).prop_map(Some)];
    (any::<[u8; 4]>(), vec(any::<u8>(), 0..=255), le)
        .prop_map(|([cla, ins, p1, p2], data, le)| Command { cla, ins, p1, p2, data, le })
}

proptest! {
    #[test]
    fn command_round_trip(c in command()) {
        let bytes = c.to_bytes().expect("generated commands fit the short form");
        prop_assert_eq!(Command::parse(&bytes), Ok(c));
    }

    #[test]
    fn response_round_trip(data in vec(any::<u8>(), 0..=256), sw in any::<u16>()) {
        let response = Response { data, sw: StatusWord(sw) };
        prop_assert_eq!(Response::parse(&response.to_bytes()), Ok(response));
    }

    #[test]
    fn arbitrary_bytes_never_break_the_round_trip(bytes in vec(any::<u8>(), 0..300)) {
        check_apdu(&bytes);
    }
}
