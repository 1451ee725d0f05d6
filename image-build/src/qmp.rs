//! A QEMU Machine Protocol client: what a test needs to be the citizen at
//! the emulated kiosk's touchscreen (`input-send-event` on a virtio
//! tablet) and to see its real framebuffer (`screendump`).
//!
//! QMP is one JSON object per line over a unix socket: a greeting, then
//! `qmp_capabilities`, then commands, each answered by `return` or `error`
//! with asynchronous `event`s in between (skipped here). The pure parts
//! (event building, the PPM reader) are separate from the socket.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// The kiosk's screen on the emulated board (virtio-gpu's mode).
pub const SCREEN: (u32, u32) = (1280, 800);

/// The tablet's absolute axes run 0..=ABS_MAX whatever the screen size.
pub const ABS_MAX: u32 = 32767;

/// An `abs` event pair moving the pointer to screen pixel `(x, y)`.
pub fn abs_event(x: u32, y: u32) -> Value {
    let scale =
        |v: u32, size: u32| (u64::from(v.min(size - 1)) * u64::from(ABS_MAX)) / u64::from(size - 1);
    json!({"events": [
        {"type": "abs", "data": {"axis": "x", "value": scale(x, SCREEN.0)}},
        {"type": "abs", "data": {"axis": "y", "value": scale(y, SCREEN.1)}},
    ]})
}

/// A left-button event, pressed or released.
pub fn button_event(down: bool) -> Value {
    json!({"events": [{"type": "btn", "data": {"down": down, "button": "left"}}]})
}

/// A connected QMP session.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects to qemu's QMP socket (waiting up to `wait` for qemu to
    /// create it) and leaves capabilities negotiation mode.
    pub fn connect(path: &Path, wait: Duration) -> anyhow::Result<Self> {
        let started = Instant::now();
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if started.elapsed() > wait => {
                    return Err(e).with_context(|| format!("no QMP socket at {}", path.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut qmp = Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            bail!("not a QMP greeting: {greeting}");
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> anyhow::Result<Value> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("qemu closed the QMP socket");
        }
        serde_json::from_str(&line).with_context(|| format!("QMP sent no JSON: {line:?}"))
    }

    /// Runs one command; its `return` value, or its `error` as an error.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> anyhow::Result<Value> {
        let mut msg = json!({"execute": command});
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        writeln!(self.writer, "{msg}")?;
        loop {
            let reply = self.read_message()?;
            if let Some(r) = reply.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = reply.get("error") {
                bail!("QMP {command}: {e}");
            }
            // An asynchronous event: not the answer.
        }
    }

    fn send(&mut self, events: Value) -> anyhow::Result<()> {
        self.execute("input-send-event", Some(events)).map(drop)
    }

    /// A finger's tap at screen pixel `(x, y)`.
    pub fn tap(&mut self, x: u32, y: u32) -> anyhow::Result<()> {
        self.send(abs_event(x, y))?;
        self.send(button_event(true))?;
        self.send(button_event(false))
    }

    /// A finger drawn through `points` (a signature).
    pub fn stroke(&mut self, points: &[(u32, u32)]) -> anyhow::Result<()> {
        let Some(&(x, y)) = points.first() else {
            return Ok(());
        };
        self.send(abs_event(x, y))?;
        self.send(button_event(true))?;
        for &(x, y) in &points[1..] {
            self.send(abs_event(x, y))?;
        }
        self.send(button_event(false))
    }

    /// The framebuffer as qemu shows it, as a PPM file at `path`.
    pub fn screendump(&mut self, path: &Path) -> anyhow::Result<()> {
        self.execute(
            "screendump",
            Some(json!({"filename": path.to_string_lossy()})),
        )
        .map(drop)
    }
}

/// An RGB picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row by row.
    pub data: Vec<u8>,
}

/// Reads a binary PPM (`P6`, 8-bit), the format of qemu's `screendump`.
pub fn read_ppm(bytes: &[u8]) -> anyhow::Result<Rgb> {
    // Header: magic, width, height, maxval, separated by whitespace (and
    // comments), then one whitespace byte before the pixels.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'#') {
            if bytes[i] == b'#' {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if start == i {
            bail!("PPM header ends early");
        }
        fields.push(std::str::from_utf8(&bytes[start..i])?.to_string());
    }
    if fields[0] != "P6" {
        bail!("not a binary PPM: {}", fields[0]);
    }
    let num = |s: &str| {
        s.parse::<u32>()
            .with_context(|| format!("PPM header field {s:?}"))
    };
    let (width, height, max) = (num(&fields[1])?, num(&fields[2])?, num(&fields[3])?);
    if max != 255 {
        bail!("PPM with maxval {max}: only 8-bit is read");
    }
    let pixels = &bytes[(i + 1).min(bytes.len())..];
    let want = width as usize * height as usize * 3;
    if pixels.len() < want {
        bail!(
            "PPM of {width}×{height} has {} of {want} pixel bytes",
            pixels.len()
        );
    }
    Ok(Rgb {
        width,
        height,
        data: pixels[..want].to_vec(),
    })
}

/// Encodes an RGB picture as PNG.
pub fn to_png(rgb: &Rgb) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, rgb.width, rgb.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(&rgb.data)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_scale_screen_pixels_to_the_tablet_axes() {
        let e = abs_event(0, 0);
        assert_eq!(e["events"][0]["data"]["value"], 0);
        assert_eq!(e["events"][1]["data"]["value"], 0);
        let e = abs_event(1279, 799);
        assert_eq!(e["events"][0]["data"]["value"], ABS_MAX);
        assert_eq!(e["events"][1]["data"]["value"], ABS_MAX);
        let e = abs_event(640, 400);
        let x = e["events"][0]["data"]["value"].as_u64().expect("x");
        assert!((16380..=16420).contains(&x), "{x}");
        assert_eq!(e["events"][0]["data"]["axis"], "x");
        // Off-screen is clamped to the edge, never past the axis.
        let e = abs_event(5000, 5000);
        assert_eq!(e["events"][0]["data"]["value"], ABS_MAX);
        assert_eq!(button_event(true)["events"][0]["data"]["down"], true);
    }

    #[test]
    fn ppm_reads_with_comments_and_refuses_short_or_other_formats() {
        let mut ppm = b"P6\n# qemu\n2 1\n255\n".to_vec();
        ppm.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let rgb = read_ppm(&ppm).expect("reads");
        assert_eq!((rgb.width, rgb.height), (2, 1));
        assert_eq!(rgb.data, vec![1, 2, 3, 4, 5, 6]);
        assert!(read_ppm(&ppm[..ppm.len() - 1]).is_err(), "a pixel short");
        assert!(read_ppm(b"P3\n1 1\n255\n0 0 0").is_err(), "ASCII PPM");
        assert!(read_ppm(b"P6\n1").is_err(), "header cut");
        let png = to_png(&rgb).expect("png");
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn qmp_talks_json_lines_and_skips_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("qmp.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().expect("accept");
            let mut w = s.try_clone().expect("clone");
            let mut r = BufReader::new(s);
            writeln!(w, r#"{{"QMP": {{"version": {{}}, "capabilities": []}}}}"#).expect("greet");
            let mut seen = Vec::new();
            let mut line = String::new();
            while r.read_line(&mut line).expect("read") > 0 {
                let v: Value = serde_json::from_str(&line).expect("json");
                seen.push(v["execute"].as_str().unwrap_or_default().to_string());
                if v["execute"] == "screendump" {
                    writeln!(
                        w,
                        r#"{{"error": {{"class": "GenericError", "desc": "no display"}}}}"#
                    )
                    .expect("write");
                } else {
                    writeln!(w, r#"{{"event": "RESET"}}"#).expect("write");
                    writeln!(w, r#"{{"return": {{}}}}"#).expect("write");
                }
                line.clear();
            }
            seen
        });
        let mut q = Qmp::connect(&path, Duration::from_secs(5)).expect("connect");
        q.tap(10, 10).expect("tap");
        let err = q.screendump(Path::new("/x.ppm")).expect_err("error answer");
        assert!(err.to_string().contains("no display"), "{err}");
        drop(q);
        let seen = server.join().expect("server");
        assert_eq!(
            seen,
            [
                "qmp_capabilities",
                "input-send-event",
                "input-send-event",
                "input-send-event",
                "screendump"
            ]
        );
    }
}
