//! Measures the rendered screens, as an accessibility audit would: every
//! page is drawn with the software renderer at 1280×800 in both modes and
//! both languages, and on the pixels of each text the contrast between the
//! text and its background must be at least 4.5:1; in elderly mode every
//! touch control must be at least 60×60 dp (44×44 otherwise), and no
//! control may fall off the screen.
//!
//! One test per binary: it owns this thread's Slint platform.

use i_slint_backend_testing::{AccessibleRole, ElementRoot};
use kiosk_ui::headless::{Frame, Headless};
use kiosk_ui::{Lang, Method, Pushed, Qr, Step, View};

/// WCAG relative luminance of an sRGB pixel.
fn luminance(p: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(p[0]) + 0.7152 * lin(p[1]) + 0.0722 * lin(p[2])
}

fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Contrast of the text in a box: the background is the box's commonest
/// colour; the text's colour is the pixel that differs most from it (glyph
/// cores are drawn in the full text colour, edges are blended).
fn text_contrast(f: &Frame, x: u32, y: u32, w: u32, h: u32) -> Option<f64> {
    let mut counts = std::collections::HashMap::new();
    let (x1, y1) = ((x + w).min(f.width), (y + h).min(f.height));
    for yy in y..y1 {
        for xx in x..x1 {
            *counts.entry(f.at(xx, yy)).or_insert(0u32) += 1;
        }
    }
    let bg = *counts.iter().max_by_key(|(_, n)| **n)?.0;
    let fg = counts
        .keys()
        .copied()
        .max_by(|a, b| contrast(*a, bg).total_cmp(&contrast(*b, bg)))?;
    if fg == bg {
        return None; // nothing drawn (empty text)
    }
    Some(contrast(fg, bg))
}

/// A view of `phase` with representative data.
/// A sample view of `page`: a phase name, or `phase+variant` for a second
/// look at a screen (`choose-identity+company`: the company entry open).
fn sample(page: &str, elderly: bool, lang: Lang) -> View {
    let (phase, variant) = page.split_once('+').unwrap_or((page, ""));
    View {
        phase: phase.into(),
        company_entry: variant == "company",
        face_text: if phase == "face-capture" {
            kiosk_ui::face_text("face.prompt.turn_left", lang).unwrap_or_default().into()
        } else {
            String::new()
        },
        face_hint: if phase == "face-capture" {
            kiosk_ui::face_text("face.hint.multiple_faces", lang).unwrap_or_default().into()
        } else {
            String::new()
        },
        face_progress: 50,
        phrases: ["quick", "clear-guidance", "no-paperwork", "too-slow", "hard-to-use", "device-problem"]
            .iter()
            .map(|c| kiosk_ui::Choice {
                code: (*c).into(),
                chosen: *c == "quick",
            })
            .collect(),
        entry_credit_code: "91330106MA27XY123".into(),
        elderly,
        lang,
        businesses: vec![
            "new-connection".into(),
            "capacity-increase".into(),
            "pay-bill".into(),
        ],
        methods: ["face", "id-card", "eid", "call-staff"]
            .iter()
            .map(|c| Method {
                code: (*c).into(),
                enabled: *c != "eid",
            })
            .collect(),
        business: "new-connection".into(),
        masked_name: "张*".into(),
        masked_id: "3301**********0026".into(),
        found: vec!["subject-proof".into()],
        missing: vec!["property-proof".into()],
        deadline: "2026-12-23".into(),
        route: "low-voltage".into(),
        capacity_kw: "8".into(),
        limit_kw: "160".into(),
        address: "浙江省杭州市西湖区文三路100号".into(),
        masked_phone: "138****5678".into(),
        residential: true,
        order_no: "GD2026112300042".into(),
        printed: "yes".into(),
        problem: if phase == "fault" {
            "store-failed".into()
        } else {
            String::new()
        },
        qr: Some(Qr {
            width: 21,
            modules: (0..441).map(|i| i % 3 == 0).collect(),
        }),
        field: match phase {
            "choose-identity" => "credit-code".into(),
            "face-identity" | "waiting-staff" => "name".into(),
            "form" => "capacity".into(),
            "account-entry" => "account".into(),
            "query-entry" => "order".into(),
            _ => String::new(),
        },
        entry_name: "张".into(),
        entry_id: "33010619900101".into(),
        entry_capacity: "8".into(),
        entry_phone: "138".into(),
        pinyin: "wei".into(),
        candidates: vec!["伟".into(), "魏".into(), "维".into()],
        signature_path: "M 20 30 L 60 80 L 120 40".into(),
        signed: true,
        volume: 3,
        entry_account: "3300012345".into(),
        entry_order: "GD2026112300042".into(),
        entry_pin: "●●●●".into(),
        account_no: "3300012345".into(),
        account_holder: "张*".into(),
        amount_due: "¥128.50".into(),
        has_due: true,
        pushed: vec![
            Pushed {
                id: "P-1".into(),
                business: "transfer".into(),
                source: "不动产登记联动过户".into(),
                summary: "人民路88号的房屋已过户给您，请确认将电费户号一并过户。".into(),
            },
            Pushed {
                id: "P-2".into(),
                business: "new-connection".into(),
                source: "项目审批联动主动服务".into(),
                summary: "您的项目已获审批，请确认供电方案并签名后启动接电。".into(),
            },
        ],
        contract_title: "低压供用电合同（居民/非居民）".into(),
        contract_text: "第一条 供电方按国家规定的电能质量标准向用电方供电，用电地址、用电容量以本次受理登记为准。".into(),
        contract_page: 1,
        contract_pages: 3,
        pay_qr: Some(Qr {
            width: 25,
            modules: (0..625).map(|i| i % 2 == 0).collect(),
        }),
        pay_amount: "¥128.50".into(),
        invoice_no: "INV000001".into(),
        progress_no: "GD2026112300042".into(),
        progress_business: "new-connection".into(),
        steps: ["done", "in-progress", "pending", "pending"]
            .iter()
            .zip(["受理", "现场勘查", "供电方案答复", "装表接电"])
            .map(|(state, title)| Step {
                title: title.into(),
                state: (*state).into(),
                started: if *state == "pending" { String::new() } else { "11-23 09:30".into() },
                finished: if *state == "done" { "11-23 09:31".into() } else { String::new() },
            })
            .collect(),
        mailing_address: "浙江省杭州市西湖区文三路100号".into(),
        ..View::default()
    }
}

#[test]
fn every_screen_has_readable_text_and_big_enough_targets() {
    let ui = Headless::new().expect("headless window");
    // `KIOSK_MEASURE_PNG=DIR` keeps every audited screen as a PNG to look at.
    let dump = std::env::var_os("KIOSK_MEASURE_PNG").map(std::path::PathBuf::from);
    if let Some(dir) = &dump {
        std::fs::create_dir_all(dir).expect("screen folder");
    }
    let mut pages: Vec<&str> = kiosk_ui::PAGES.to_vec();
    pages.push("submitting"); // the generic waiting page
    pages.push("choose-identity+company");
    let mut problems = Vec::new();
    let mut measured = (0usize, 0usize);
    for elderly in [false, true] {
        let min_target = if elderly { 60.0 } else { 44.0 };
        for lang in [Lang::Zh, Lang::En] {
            for phase in &pages {
                let frame = ui.render(&sample(phase, elderly, lang));
                if let Some(dir) = &dump {
                    let mode = if elderly { "elderly" } else { "standard" };
                    let name = format!("{phase}-{}-{mode}.png", lang.code());
                    frame.save_png(&dir.join(name)).expect("write the screen");
                }
                let root = ui.screens().window();
                for e in root.root_element().query_descendants().find_all() {
                    let (pos, size) = (e.absolute_position(), e.size());
                    if size.width < 1.0 || size.height < 1.0 || e.computed_opacity() < 0.5 {
                        continue;
                    }
                    let label = e.accessible_label().unwrap_or_default();
                    match e.accessible_role() {
                        Some(AccessibleRole::Button) | Some(AccessibleRole::TextInput) => {
                            measured.1 += 1;
                            let (right, bottom) = (pos.x + size.width, pos.y + size.height);
                            if right > frame.width as f32 + 0.5
                                || bottom > frame.height as f32 + 0.5
                            {
                                problems.push(format!(
                                    "{phase} {lang:?} elderly={elderly}: {label:?} is cut off at the screen's edge ({right:.0}, {bottom:.0})"
                                ));
                            }
                            if size.width < min_target || size.height < min_target {
                                problems.push(format!(
                                    "{phase} {lang:?} elderly={elderly}: {label:?} is {:.0}×{:.0}",
                                    size.width, size.height
                                ));
                            }
                        }
                        Some(AccessibleRole::Text) if !label.trim().is_empty() => {
                            let clip = |v: f32| v.max(0.0) as u32;
                            if let Some(c) = text_contrast(
                                &frame,
                                clip(pos.x),
                                clip(pos.y),
                                clip(size.width),
                                clip(size.height),
                            ) {
                                measured.0 += 1;
                                if c < 4.5 {
                                    problems.push(format!(
                                        "{phase} {lang:?} elderly={elderly}: {label:?} contrast {c:.2}"
                                    ));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    assert!(
        measured.0 > 200 && measured.1 > 100,
        "measured {measured:?}"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
