//! The technician menu, opened by the PIN (five taps on the title): what
//! the kiosk runs, where its updates stand, and the install of an update
//! from a USB stick for sites without a network (the stick is mounted
//! read-only by the image's udev rule; RAUC checks the bundle's signature
//! as for any other install).
//!
//! [`menu`] is pure: the window feeds it the update state, the stick's
//! bundles and whether the flow is idle, about once a second while the
//! menu is open.

use std::path::PathBuf;

use kiosk_ui::Lang;

use crate::update::{Outcome, SystemReport};

/// What the technician menu shows and allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Menu {
    /// Release, slots, last update, one per line.
    pub lines: Vec<String>,
    /// The bundle the install button installs (the last by name on the
    /// stick), if any.
    pub bundle: Option<PathBuf>,
    /// Its file name, or a hint when the stick has none.
    pub bundle_name: String,
    /// The install can start: a bundle, the kiosk idle at attract, no
    /// install running or waiting for its restart.
    pub can_install: bool,
    /// An installed update waits for its restart.
    pub can_restart: bool,
    /// Where the install stands, or its result.
    pub message: String,
}

fn pick<'a>(lang: Lang, zh: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// The menu for this update state, these bundles and this flow.
pub fn menu(report: &SystemReport, bundles: &[PathBuf], idle: bool, lang: Lang) -> Menu {
    let t = |zh, en| pick(lang, zh, en).to_string();
    let slot = report.slot.as_deref().unwrap_or("-");
    let other = report.other_slot.as_deref().unwrap_or("-");
    let mut lines = vec![
        format!("{}{}", t("版本：", "Release: "), report.release),
        format!(
            "{}{slot}{}{other}{}",
            t("运行分区：", "Running slot: "),
            t("（另一分区：", " (other slot: "),
            t("）", ")")
        ),
    ];
    let last = report.last_update.as_ref();
    if let Some(l) = last {
        lines.push(format!(
            "{}{} {} ({})",
            t("上次更新：", "Last update: "),
            l.version,
            l.outcome.as_str(),
            l.detail
        ));
    }
    if report.update_failures_total > 0 {
        lines.push(format!(
            "{}{}",
            t("失败的更新：", "Failed updates: "),
            report.update_failures_total
        ));
    }
    if let Some(why) = &report.drop_refused {
        lines.push(format!(
            "{}{why}",
            t(
                "启动分区上的 kiosk.toml 未采用，沿用原配置：",
                "The kiosk.toml on the boot partition was refused, the previous config stays: "
            )
        ));
    }
    let request = report.request.as_deref();
    let installed = last.is_some_and(|l| l.outcome == Outcome::Installed);
    let can_restart = installed && request.is_none();
    let bundle = bundles.last().cloned();
    let bundle_name = match &bundle {
        Some(b) => b
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        None => t(
            "U 盘上没有更新包（.raucb）",
            "No update bundle (.raucb) on a USB stick",
        ),
    };
    let message = match (request, last) {
        (Some("installing"), _) => t(
            "正在安装，请勿拔出 U 盘……",
            "Installing: do not remove the stick…",
        ),
        (Some("install"), _) => t("即将开始安装……", "The install is starting…"),
        (Some("reboot"), _) => t("正在重启……", "Restarting…"),
        (_, Some(l)) if installed => format!(
            "{}{}{}",
            t("已安装 ", "Installed "),
            l.version,
            t(
                "。点“立即重启”运行新版本；新版本不健康时会自动退回。",
                ". Tap \"Restart now\" to run it; the kiosk goes back by itself if it is not healthy."
            )
        ),
        (_, Some(l)) if l.outcome == Outcome::Refused => format!(
            "{}{}",
            t("更新包被拒绝：", "The bundle was refused: "),
            l.detail
        ),
        (_, Some(l)) if l.outcome == Outcome::Failed => format!(
            "{}{}",
            t("安装失败：", "The install failed: "),
            l.detail
        ),
        _ if bundle.is_some() && !idle => t(
            "有市民正在办理业务：结束后才能安装。",
            "A citizen is being served: the install waits until the kiosk is idle.",
        ),
        _ => String::new(),
    };
    Menu {
        lines,
        can_install: bundle.is_some() && idle && request.is_none() && !installed,
        bundle,
        bundle_name,
        can_restart,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::LastUpdate;

    fn report(last: Option<(Outcome, &str)>, request: Option<&str>) -> SystemReport {
        SystemReport {
            release: "0.1.0+gabc".into(),
            slot: Some("A".into()),
            other_slot: Some("good".into()),
            last_update: last.map(|(outcome, detail)| LastUpdate {
                version: "0.2.0+gdef".into(),
                outcome,
                detail: detail.into(),
                at: chrono::Utc::now(),
            }),
            update_failures_total: 0,
            request: request.map(str::to_string),
            waiting: None,
            drop_refused: None,
        }
    }

    #[test]
    fn a_refused_drop_is_on_the_menu_with_its_reason() {
        let mut r = report(None, None);
        assert!(!menu(&r, &[], true, Lang::En)
            .lines
            .iter()
            .any(|l| l.contains("boot partition")));
        r.drop_refused =
            Some("kiosk config verify-drop: not signed: no kiosk.toml.sig beside it".into());
        let en = menu(&r, &[], true, Lang::En);
        assert!(
            en.lines.iter().any(|l| l
                .starts_with("The kiosk.toml on the boot partition was refused")
                && l.ends_with("not signed: no kiosk.toml.sig beside it")),
            "{:?}",
            en.lines
        );
        let zh = menu(&r, &[], true, Lang::Zh);
        assert!(
            zh.lines.iter().any(|l| l.contains("未采用")),
            "{:?}",
            zh.lines
        );
    }

    #[test]
    fn the_stick_installs_only_when_idle_and_nothing_runs() {
        let stick = vec![
            PathBuf::from("/media/kiosk-usb/kiosk-0.2.0-rpi4.raucb"),
            PathBuf::from("/media/kiosk-usb/kiosk-0.3.0-rpi4.raucb"),
        ];
        let m = menu(&report(None, None), &stick, true, Lang::En);
        assert!(m.can_install && !m.can_restart);
        assert_eq!(m.bundle_name, "kiosk-0.3.0-rpi4.raucb");
        assert_eq!(m.lines[0], "Release: 0.1.0+gabc");
        assert_eq!(m.lines[1], "Running slot: A (other slot: good)");
        // No stick, a citizen at the screen, an install running: no install.
        assert!(!menu(&report(None, None), &[], true, Lang::En).can_install);
        let busy = menu(&report(None, None), &stick, false, Lang::En);
        assert!(!busy.can_install && busy.message.contains("citizen"));
        let running = menu(&report(None, Some("installing")), &stick, true, Lang::Zh);
        assert!(!running.can_install && running.message.contains("请勿拔出"));
    }

    #[test]
    fn an_installed_update_offers_the_restart_and_a_refusal_says_why() {
        let stick = vec![PathBuf::from("/media/kiosk-usb/x.raucb")];
        let done = menu(
            &report(Some((Outcome::Installed, "installed into slot B")), None),
            &stick,
            true,
            Lang::En,
        );
        assert!(done.can_restart && !done.can_install);
        assert!(done.message.starts_with("Installed 0.2.0+gdef"));
        assert!(done.lines[2].contains("installed into slot B"));
        let restarting = menu(
            &report(Some((Outcome::Installed, "")), Some("reboot")),
            &stick,
            true,
            Lang::En,
        );
        assert!(!restarting.can_restart);
        let refused = menu(
            &report(
                Some((Outcome::Refused, "signature verification failed")),
                None,
            ),
            &stick,
            true,
            Lang::En,
        );
        assert!(refused.can_install);
        assert_eq!(
            refused.message,
            "The bundle was refused: signature verification failed"
        );
    }
}
