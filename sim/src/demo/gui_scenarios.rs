//! Demo scenarios that exercise the screens, on top of the flow's own
//! (`demo::scenarios`): `elderly-new-connection` is the ID-card new
//! connection with elderly mode switched on at the attract screen.

use crate::demo::scenarios::{self as base, Act, Scenario};
use kiosk::flow::Event;

/// The screens' scenarios.
pub fn all() -> Vec<Scenario> {
    let mut out = Vec::new();
    if let Some(mut s) = base::by_name("new-connection-idcard") {
        s.name = "elderly-new-connection";
        s.description =
            "an elderly resident switches on elderly mode (large text, more time) and does the ID-card new connection";
        s.acts
            .insert(0, Act::On("attract", Event::SetElderly(true)));
        out.push(s);
    }
    out
}

/// The scenario of that name among the flow's and the screens'.
pub fn by_name(name: &str) -> Option<Scenario> {
    base::by_name(name).or_else(|| all().into_iter().find(|s| s.name == name))
}
