//! The live preview on the face screen: a frame handed to
//! `Screens::show_preview` is drawn inside the preview box, and clearing it
//! leaves the box dark again (one test: the headless platform is set once
//! per thread).

use kiosk_ui::headless::Headless;
use kiosk_ui::View;

#[test]
fn the_preview_is_drawn_in_its_box_and_cleared() {
    let ui = Headless::new().expect("headless window");
    let view = View {
        phase: "face-capture".into(),
        volume: 3,
        ..View::default()
    };
    let dark = ui.render(&view);
    // The preview box: the dark rectangle left of the prompt.
    let (cx, cy) = ui_box_centre(&dark).expect("a dark preview box");
    // A red frame, 320×240.
    let red: Vec<u8> = (0..320 * 240).flat_map(|_| [220u8, 20, 20]).collect();
    ui.screens().show_preview(Some((320, 240, &red)));
    let shown = ui.draw();
    let [r, g, b] = shown.at(cx + 40, cy + 40);
    assert!(
        r > 150 && g < 80 && b < 80,
        "the preview shows the frame: {r},{g},{b}"
    );
    ui.screens().show_preview(None);
    let cleared = ui.draw();
    assert_eq!(cleared.at(cx + 40, cy + 40), dark.at(cx + 40, cy + 40));
}

/// The centre of the largest run of the preview box's colour (#20262e) on
/// the middle row of the screen.
fn ui_box_centre(f: &kiosk_ui::headless::Frame) -> Option<(u32, u32)> {
    let y = f.height / 2;
    let xs: Vec<u32> = (0..f.width)
        .filter(|x| f.at(*x, y) == [0x20, 0x26, 0x2e])
        .collect();
    let (first, last) = (*xs.first()?, *xs.last()?);
    Some(((first + last) / 2, y))
}
