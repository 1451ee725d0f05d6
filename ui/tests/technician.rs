//! The technician's screens: the PIN pad (after five taps on the title) and
//! the menu with the install of an update from a USB stick. The taps here
//! are the ones `image-build update-test` makes on the emulated board's
//! touchscreen (`image-build/src/e2e/update.rs`, `TECHNICIAN_*`): a layout
//! change that moves a button fails here first.

use std::cell::RefCell;
use std::rc::Rc;

use kiosk_ui::headless::Headless;
use kiosk_ui::slint::platform::{PointerEventButton, WindowEvent};
use kiosk_ui::slint::{ComponentHandle, LogicalPosition};
use kiosk_ui::{Action, View};

/// Title (five taps), PIN keys 2 4 6 8, the menu's install, restart and
/// close buttons; the same numbers as in the update test.
const TITLE: (f32, f32) = (120.0, 42.0);
const PIN_KEYS: [(&str, (f32, f32)); 4] = [
    ("2", (635.0, 334.0)),
    ("4", (516.0, 393.0)),
    ("6", (759.0, 393.0)),
    ("8", (635.0, 452.0)),
];
const INSTALL: (f32, f32) = (278.0, 765.0);
const RESTART: (f32, f32) = (573.0, 765.0);
const CLOSE: (f32, f32) = (1080.0, 765.0);
/// Inside the install and restart buttons, left of their labels: the test
/// reads their fill to know whether they are enabled.
const INSTALL_FILL: (u32, u32) = (130, 765);
const RESTART_FILL: (u32, u32) = (465, 765);

/// A primary button's fill, as the update test reads it.
fn is_primary([r, g, b]: [u8; 3]) -> bool {
    b > 120 && r < 60 && g < 120
}

fn pin_pad() -> View {
    View {
        phase: "attract".into(),
        technician: true,
        volume: 3,
        ..View::default()
    }
}

fn menu(can_install: bool, can_restart: bool) -> View {
    View {
        phase: "attract".into(),
        technician: true,
        technician_menu: true,
        tech_lines: vec![
            "Release: 0.1.0+g75d9524dbf".into(),
            "Running slot: B (other slot: good)".into(),
            "Last update: 0.1.0+g75d9524dbf.update2 good (slot B healthy, marked good)".into(),
        ],
        tech_bundle: "kiosk-update3.raucb".into(),
        tech_can_install: can_install,
        tech_can_restart: can_restart,
        tech_message: if can_restart {
            "Installed 0.1.0+g75d9524dbf.update3. Tap \"Restart now\" to run it; the kiosk goes back by itself if it is not healthy.".into()
        } else {
            String::new()
        },
        volume: 3,
        ..View::default()
    }
}

fn tap(ui: &Headless, (x, y): (f32, f32)) {
    let w = ui.screens().window().window();
    let position = LogicalPosition::new(x, y);
    w.dispatch_event(WindowEvent::PointerPressed {
        position,
        button: PointerEventButton::Left,
    });
    w.dispatch_event(WindowEvent::PointerReleased {
        position,
        button: PointerEventButton::Left,
    });
}

#[test]
fn the_technician_screens_answer_the_update_tests_taps() {
    let ui = Headless::new().expect("headless window");
    let seen: Rc<RefCell<Vec<Action>>> = Rc::default();
    {
        let seen = seen.clone();
        ui.screens().on_action(move |a| seen.borrow_mut().push(a));
    }
    let out = std::env::var_os("KIOSK_TECHNICIAN_SHOTS").map(std::path::PathBuf::from);
    let shot = |name: &str, f: &kiosk_ui::headless::Frame| {
        if let Some(dir) = &out {
            f.save_png(&dir.join(format!("{name}.png"))).expect("png");
        }
    };
    shot(
        "attract",
        &ui.render(&View {
            phase: "attract".into(),
            volume: 3,
            ..View::default()
        }),
    );
    tap(&ui, TITLE);
    assert_eq!(
        seen.borrow_mut().drain(..).collect::<Vec<_>>(),
        vec![Action::TechnicianTap]
    );
    shot("pin", &ui.render(&pin_pad()));
    for (key, at) in PIN_KEYS {
        tap(&ui, at);
        assert_eq!(
            seen.borrow_mut().drain(..).collect::<Vec<_>>(),
            vec![Action::Pin(key.into())],
            "PIN key {key} at {at:?}"
        );
    }
    // The menu with a bundle on the stick: install, and no restart yet.
    let frame = ui.render(&menu(true, false));
    shot("menu", &frame);
    assert!(is_primary(frame.at(INSTALL_FILL.0, INSTALL_FILL.1)));
    assert!(!is_primary(frame.at(RESTART_FILL.0, RESTART_FILL.1)));
    tap(&ui, RESTART);
    tap(&ui, INSTALL);
    assert_eq!(
        seen.borrow_mut().drain(..).collect::<Vec<_>>(),
        vec![Action::TechnicianInstall]
    );
    // Installed: restart, and no second install.
    let frame = ui.render(&menu(false, true));
    shot("menu-installed", &frame);
    assert!(!is_primary(frame.at(INSTALL_FILL.0, INSTALL_FILL.1)));
    assert!(is_primary(frame.at(RESTART_FILL.0, RESTART_FILL.1)));
    tap(&ui, INSTALL);
    tap(&ui, RESTART);
    tap(&ui, CLOSE);
    assert_eq!(
        seen.borrow_mut().drain(..).collect::<Vec<_>>(),
        vec![Action::TechnicianRestart, Action::TechnicianClose]
    );
}
