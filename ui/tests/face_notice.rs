//! The attract screen's face-check notice is for kiosks that offer the face
//! check: a kiosk configured without it (the emulated test board, a hall
//! without cameras) must not tell citizens it can check their face.

use kiosk_ui::headless::Headless;
use kiosk_ui::{Method, View};

fn attract(face: bool) -> View {
    View {
        phase: "attract".into(),
        methods: ["face", "id-card", "eid", "call-staff"]
            .iter()
            .map(|code| Method {
                code: (*code).into(),
                enabled: *code != "face" || face,
            })
            .collect(),
        volume: 3,
        ..View::default()
    }
}

/// Pixels that are not the page's white.
fn inked(f: &kiosk_ui::headless::Frame) -> usize {
    (0..f.height)
        .flat_map(|y| (0..f.width).map(move |x| (x, y)))
        .filter(|&(x, y)| f.at(x, y) != [0xff, 0xff, 0xff])
        .count()
}

#[test]
fn the_face_notice_shows_only_where_the_face_check_is_offered() {
    let ui = Headless::new().expect("headless window");
    let with_face = ui.render(&attract(true));
    let without = ui.render(&attract(false));
    assert!(
        inked(&with_face) > inked(&without) + 1000,
        "the notice panel and its text are drawn only with the face check: {} vs {} inked pixels",
        inked(&with_face),
        inked(&without)
    );
    // The same kiosk with the face check again: the notice comes back.
    assert_eq!(inked(&ui.render(&attract(true))), inked(&with_face));
}
