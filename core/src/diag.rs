//! Technician diagnostics (`kiosk printer test`, `kiosk camera check`): one
//! device, the config's settings, a one-line verdict. Both use synthetic
//! content only: the test receipt has no real person on it and the camera
//! check keeps no frame (it reports size and mean brightness).

use std::time::Duration;

use anyhow::{bail, Context};
use kiosk_drivers::camera::FrameSource;
use tokio::sync::mpsc;

use crate::config::PrinterSection;
use crate::flow::Event;
use crate::runtime::{devices, PrinterCmd};

/// Prints the synthetic sample receipt on the configured printer; returns
/// the printer's health afterwards.
pub async fn print_test_receipt(section: &PrinterSection) -> anyhow::Result<String> {
    let printer = devices::spawn_printer(section)
        .await
        .context("cannot open the printer")?;
    print_test_receipt_on(&printer).await
}

/// [`print_test_receipt`] on a printer actor already running.
pub async fn print_test_receipt_on(
    printer: &devices::DeviceHandle<PrinterCmd>,
) -> anyhow::Result<String> {
    let (tx, mut rx) = mpsc::channel(4);
    printer.connect(tx);
    printer
        .commands
        .send(PrinterCmd::Print {
            local_id: "TEST".into(),
            receipt: Box::new(kiosk_drivers::printer::sample_receipt()),
        })
        .await
        .context("the printer actor stopped")?;
    let answer = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match rx.recv().await {
                Some(Event::ReceiptPrinted(r)) => return Some(r),
                Some(_) => continue,
                None => return None,
            }
        }
    })
    .await
    .context("the printer did not finish within 60 s")?;
    let health = printer.health.borrow().clone();
    match answer {
        Some(Ok(())) => Ok(format!("test receipt printed; printer {health:?}")),
        Some(Err(e)) => bail!("test receipt not printed: {e} (printer {health:?})"),
        None => bail!("the printer actor stopped"),
    }
}

/// Grabs one frame from the configured camera; reports its size and mean
/// brightness (0–255). Nothing is stored.
pub async fn camera_check(cfg: &kiosk_drivers::camera::CameraConfig) -> anyhow::Result<String> {
    let mut cam = kiosk_drivers::camera::v4l2::V4l2Camera::open(cfg)
        .with_context(|| format!("cannot open the camera {}", cfg.device_name()))?;
    let frame = tokio::time::timeout(Duration::from_secs(15), cam.next_frame())
        .await
        .context("no frame within 15 s")?
        .context("camera error")?;
    let luma = frame.mean_luma();
    let verdict = if luma < 30.0 {
        "too dark: check the camera light and the lens cover"
    } else if luma > 230.0 {
        "too bright: check for direct light into the lens"
    } else {
        "ok"
    };
    Ok(format!(
        "camera {}: {}x{} frame, mean brightness {luma:.0}: {verdict}",
        cfg.device_name(),
        frame.width,
        frame.height
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_twin_prints_the_test_receipt() {
        let section = PrinterSection::default();
        let twin = kiosk_drivers::printer::sim::SimPrinter::new(&devices::printer_config(&section))
            .expect("twin");
        let controls = twin.controls();
        let printer = devices::spawn_printer_actor(twin, None);
        let verdict = print_test_receipt_on(&printer).await.expect("printed");
        assert!(verdict.starts_with("test receipt printed"), "{verdict}");
        assert_eq!(
            controls.printed().len(),
            1,
            "one receipt on the twin's paper"
        );
    }

    #[tokio::test]
    async fn a_missing_printer_device_is_a_clear_error() {
        let section = PrinterSection {
            sink: crate::config::PrinterSink::File {
                path: "/nonexistent/usb/lp0".into(),
            },
            ..PrinterSection::default()
        };
        let err = print_test_receipt(&section).await.expect_err("no device");
        // Opened at the job (a printer may be switched on after the kiosk):
        // the failure names the device and says nothing was printed.
        let err = format!("{err:#}");
        assert!(
            err.contains("not printed") && err.contains("/nonexistent/usb/lp0"),
            "{err}"
        );
    }
}
