//! `image-build boot-test`: boots a built test image under
//! `qemu-system-aarch64 -M virt`, polls `/status` through a forwarded
//! loopback port with the image's preseeded token, checks what the console
//! reports (read-only root, `/data` read-write, the kiosk active, no failed
//! unit), then powers the machine down.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::build::Outputs;
use crate::def::{images_dir, ImageDef};
use crate::step::{run, tail, Step};

/// What `boot-test` needs.
#[derive(Debug, Clone)]
pub struct BootTestOptions {
    /// Image definition name.
    pub image: String,
    /// Folder the build wrote to.
    pub out: PathBuf,
    /// How long the kiosk has to answer `/status`.
    pub timeout: Duration,
}

/// What the boot test saw.
#[derive(Debug, Clone)]
pub struct Report {
    /// From starting qemu to the first `/status` answer.
    pub to_status: Duration,
    /// The first `/status` body.
    pub status: serde_json::Value,
    /// The console's `BOOTCHECK` line.
    pub bootcheck: String,
    /// The console's `HARDENING` line (the unit's exposure score first).
    pub hardening: String,
}

/// An HTTP response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub code: u16,
    /// Body (de-chunked).
    pub body: String,
}

/// `GET path` over HTTP/1.1 with an optional bearer token; `None` when
/// nothing answers yet (refused, reset or empty: qemu's user network
/// accepts the connection before the guest listens).
pub fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> Option<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    parse_response(&String::from_utf8_lossy(&raw))
}

/// Parses a whole HTTP/1.1 response.
pub fn parse_response(raw: &str) -> Option<Response> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Some(Response { code, body })
}

fn dechunk(mut s: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n")?;
        let n = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if n == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..n)?);
        s = rest.get(n + 2..)?;
    }
}

/// A loopback port nobody listens on now (the OS picks it).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The guest port of the kiosk's status endpoint, from the image's config.
fn guest_port(def: &ImageDef) -> anyhow::Result<u16> {
    let text = std::fs::read_to_string(images_dir().join(&def.board.kiosk_config))?;
    let v: toml::Value = toml::from_str(&text)?;
    let addr = v
        .get("status")
        .and_then(|s| s.get("addr"))
        .and_then(|a| a.as_str())
        .unwrap_or("0.0.0.0:8700");
    Ok(addr.parse::<SocketAddr>().context("status.addr")?.port())
}

/// Kills qemu when the test ends, whatever way it ends.
pub struct Vm(pub Child);

impl Drop for Vm {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A built test image, as the emulated tests need it.
pub struct Built {
    /// Its definition.
    pub def: ImageDef,
    /// Its outputs.
    pub out: Outputs,
    /// The raw SD-card image.
    pub img: PathBuf,
    /// The status token the build preseeded.
    pub token: String,
}

/// Finds the build's outputs for `image` in `dir` (each one there, else
/// the command that makes it) and checks the image's kiosk holds no
/// simulator and no twin.
pub fn built(image: &str, dir: &std::path::Path) -> anyhow::Result<Built> {
    let def = ImageDef::load(&images_dir(), image)?;
    if def.qemu.is_none() {
        bail!(
            "{} has no [qemu] section: it cannot boot in emulation",
            def.name
        );
    }
    let out = Outputs::new(dir, &def.name);
    ensure_raw(&out)?;
    for suffix in [".img", ".kiosk", ".u-boot.bin", ".status-token"] {
        let p = out.file(suffix);
        if !p.exists() {
            bail!(
                "{} is missing: run `image-build build --image {} --out {}` first",
                p.display(),
                def.name,
                dir.display()
            );
        }
    }
    let step = Step::start("the image's kiosk holds no simulator and no twin");
    check_no_simulator(&std::fs::read(out.file(".kiosk"))?)?;
    step.done();
    let token = std::fs::read_to_string(out.file(".status-token"))?
        .trim()
        .to_string();
    Ok(Built {
        img: out.file(".img"),
        def,
        out,
        token,
    })
}

/// Boots the image and checks it.
pub fn boot_test(opts: &BootTestOptions) -> anyhow::Result<Report> {
    let Built {
        def,
        out,
        img,
        token,
    } = built(&opts.image, &opts.out)?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let console = out.file(".boot-console.log");
    let _ = std::fs::remove_file(&console);
    let tmp = tempfile::tempdir()?;
    let monitor = tmp.path().join("monitor.sock");
    // Central: the standalone simulator on the host, over TLS with the test
    // CA the image pins (the guest reaches it at 10.0.2.2:CENTRAL_PORT).
    let central = if def.board.central_ca.is_some() {
        Some(start_central(&tmp.path().join("central"), None)?)
    } else {
        None
    };
    // The reader and printer twins on the host: the guest's real drivers
    // talk to them through a USB serial adapter and a network printer.
    let reader_socket = tmp.path().join("reader.sock");
    let (twins, _card) = start_twins(&reader_socket, &out.file(".receipts"))?;
    let mut cmd = machine_command(&Machine {
        def: &def,
        out: &out,
        disk: &img,
        snapshot: true,
        status_port: port,
        reader_socket: &reader_socket,
        console: &console,
        control: Control::Monitor(&monitor),
        reboot: false,
    })?;
    cmd.stderr(std::fs::File::create(out.file(".qemu-stderr.log"))?);
    let console_tail = || tail(&std::fs::read_to_string(&console).unwrap_or_default(), 30);

    let started = Instant::now();
    let mut vm = Vm(cmd
        .spawn()
        .context("cannot start qemu-system-aarch64 (package qemu-system-arm)")?);
    let step = Step::start(format!(
        "boot {} under qemu, poll /status on {addr}",
        def.name
    ));
    let status = loop {
        if let Some(st) = vm.0.try_wait()? {
            let err = std::fs::read_to_string(out.file(".qemu-stderr.log")).unwrap_or_default();
            bail!(
                "qemu exited ({st}) before /status answered: {err}\nconsole:\n{}",
                console_tail()
            );
        }
        if started.elapsed() > opts.timeout {
            bail!(
                "the kiosk did not answer /status within {} s\nconsole:\n{}",
                opts.timeout.as_secs(),
                console_tail()
            );
        }
        match http_get(addr, "/status", Some(&token)) {
            Some(r) if r.code == 200 => break r,
            Some(r) if r.code == 401 => bail!("/status refused the preseeded token (401)"),
            _ => std::thread::sleep(Duration::from_secs(1)),
        }
    };
    let to_status = started.elapsed();
    step.done();
    let status: serde_json::Value =
        serde_json::from_str(&status.body).context("/status is not JSON")?;
    check_status(&status)?;
    if central.is_some() {
        // The kiosk reached central over TLS with the pinned CA: the catalog
        // call at start set its view of central's clock.
        let step = Step::start("the kiosk reached central over pinned TLS");
        let reached = loop {
            let s = http_get(addr, "/status", Some(&token))
                .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok());
            if s.as_ref().is_some_and(|s| !s["clock_offset_s"].is_null()) {
                break true;
            }
            if started.elapsed() > opts.timeout {
                break false;
            }
            std::thread::sleep(Duration::from_secs(1));
        };
        if !reached {
            bail!("the kiosk never reached kiosk-central-sim (clock_offset_s stays null)");
        }
        step.done();
    }
    drop(central);
    drop(twins);
    match http_get(addr, "/status", None) {
        Some(r) if r.code == 401 => {}
        other => bail!("/status without the token should be 401, got {other:?}"),
    }

    let step = Step::start("wait for the console's BOOTCHECK line");
    let bootcheck = loop {
        if let Some(l) = console_line(&console, "BOOTCHECK ") {
            break l;
        }
        if started.elapsed() > opts.timeout + Duration::from_secs(180) {
            bail!("no BOOTCHECK line on the console\n{}", console_tail());
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    step.done();
    check_bootcheck(&bootcheck)?;
    let hardening =
        console_line(&console, "HARDENING ").context("no HARDENING line on the console")?;
    check_hardening(&hardening, false)?;

    let step = Step::start("power down");
    if let Ok(mut m) = UnixStream::connect(&monitor) {
        let _ = m.write_all(b"system_powerdown\n");
    }
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(20) {
        if vm.0.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let clean = vm.0.try_wait()?.is_some();
    step.done();
    if !clean {
        eprintln!("image-build: the guest did not power down within 20 s (the power key is not handled yet); qemu stopped (the image is opened with snapshot=on: nothing was written)");
    }
    Ok(Report {
        to_status,
        status,
        bootcheck,
        hardening,
    })
}

/// How a test reaches qemu besides the kiosk's own ports.
pub enum Control<'a> {
    /// The human monitor on this unix socket, no display (the boot test).
    Monitor(&'a std::path::Path),
    /// QMP on this unix socket, with the kiosk's display (virtio-gpu) and
    /// touchscreen (a virtio tablet): the end-to-end test.
    Qmp(&'a std::path::Path),
}

/// The emulated kiosk: the image's board wired like a real kiosk.
pub struct Machine<'a> {
    /// The image definition (its `[qemu]` section).
    pub def: &'a ImageDef,
    /// The build's outputs: U-Boot (the board's flash).
    pub out: &'a Outputs,
    /// The SD card.
    pub disk: &'a std::path::Path,
    /// Throw writes away (`snapshot=on`) or keep them on `disk`.
    pub snapshot: bool,
    /// Host loopback port forwarded to the kiosk's status endpoint.
    pub status_port: u16,
    /// The reader twin's unix socket (the USB serial adapter's other end).
    pub reader_socket: &'a std::path::Path,
    /// The serial console's log file.
    pub console: &'a std::path::Path,
    /// Monitor or QMP.
    pub control: Control<'a>,
    /// Let a guest reboot restart the board (the update test: U-Boot then
    /// picks the slot); otherwise qemu exits on a reboot.
    pub reboot: bool,
}

/// The `qemu-system-aarch64` command line of `m`.
pub fn machine_command(m: &Machine<'_>) -> anyhow::Result<Command> {
    let q = m.def.qemu.clone().with_context(|| {
        format!(
            "{} has no [qemu] section: it cannot boot in emulation",
            m.def.name
        )
    })?;
    let mut cmd = Command::new("qemu-system-aarch64");
    // The board's flash: U-Boot, which runs the image's boot script (slot
    // counters, then the slot's own kernel, initrd and command line).
    cmd.args(["-M", &q.machine, "-cpu", &q.cpu])
        .args(["-smp", &q.smp.to_string(), "-m", &q.memory_mib.to_string()])
        .args(["-accel", "tcg,thread=multi"])
        .arg("-bios")
        .arg(m.out.file(".u-boot.bin"))
        .arg("-drive")
        .arg(format!(
            "file={},if=none,id=d0,format=raw{}",
            m.disk.display(),
            if m.snapshot { ",snapshot=on" } else { "" }
        ))
        .args(["-device", "virtio-blk-pci,drive=d0"])
        .arg("-netdev")
        .arg(format!(
            "user,id=n0,hostfwd=tcp:127.0.0.1:{}-:{}",
            m.status_port,
            guest_port(m.def)?
        ))
        .args(["-device", "virtio-net-pci,netdev=n0,romfile="])
        // The card reader: a USB serial adapter (FTDI, /dev/ttyUSB0 in the
        // guest), its other end the host's reader twin.
        .args(["-device", "qemu-xhci,id=xhci"])
        .arg("-chardev")
        .arg(format!(
            "socket,id=reader,path={},reconnect=1",
            m.reader_socket.display()
        ))
        .args(["-device", "usb-serial,bus=xhci.0,chardev=reader"]);
    match m.control {
        Control::Monitor(sock) => {
            cmd.arg("-monitor")
                .arg(format!("unix:{},server=on,wait=off", sock.display()));
        }
        Control::Qmp(sock) => {
            // The touchscreen: linuxkms draws on virtio-gpu, libinput reads
            // the tablet; `-display none` keeps the framebuffer headless
            // (QMP's screendump still reads it).
            cmd.args(["-device", "virtio-gpu-pci", "-device", "virtio-tablet-pci"])
                // A passer-by's USB keyboard, which the image must refuse.
                .args(["-device", "usb-kbd,bus=xhci.0"])
                .arg("-qmp")
                .arg(format!("unix:{},server=on,wait=off", sock.display()));
        }
    }
    if !m.reboot {
        cmd.arg("-no-reboot");
    }
    cmd.args(["-display", "none"])
        .arg("-serial")
        .arg(format!("file:{}", m.console.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    Ok(cmd)
}

/// Where the guest finds central: `https://10.0.2.2:18443/` in the
/// emulated board's config is the host's loopback port 18443.
pub const CENTRAL_PORT: u16 = 18443;

/// A host program of the emulated kiosk's world (the central simulator,
/// the twins), stopped when dropped.
pub struct HostProgram(Child);

impl Drop for HostProgram {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl HostProgram {
    /// Starts the `kiosk-sim` program `name` (next to this one: the same
    /// cargo target folder, where `scripts/image-ci.sh` builds them all)
    /// and waits until its first lines start with `ready`, in order. Its
    /// later lines are read and dropped (a closed pipe would end it at its
    /// next line).
    fn start(
        name: &str,
        args: &[std::ffi::OsString],
        ready: &[&str],
    ) -> anyhow::Result<(Self, Vec<String>)> {
        use std::io::BufRead as _;
        let me = std::env::current_exe()?;
        let program = me
            .parent()
            .map(|d| d.join(name))
            .filter(|p| p.is_file())
            .with_context(|| {
                format!(
                    "{name} is not next to {}: `cargo build -p kiosk-sim --bins`",
                    me.display()
                )
            })?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let program = HostProgram(child);
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        for want in ready {
            match lines.next() {
                Some(Ok(line)) if line.starts_with(want) => seen.push(line),
                other => {
                    bail!("{name} did not start (a port taken?): wanted {want:?}, got {other:?}")
                }
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Ok((program, seen))
    }
}

/// Where the guest finds the printer: `10.0.2.2:19100` in the emulated
/// board's config is the host's loopback port 19100.
pub const PRINTER_PORT: u16 = 19100;

/// The synthetic card on the reader twin: what must never leak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOnReader {
    /// Its ID number.
    pub id_number: String,
    /// Its holder's name.
    pub name: String,
}

/// `kiosk-twins` on the host: the reader twin on `socket` with a card on
/// it, the printer twin on `127.0.0.1:PRINTER_PORT` writing receipts to
/// `receipts`.
pub fn start_twins(
    socket: &std::path::Path,
    receipts: &std::path::Path,
) -> anyhow::Result<(HostProgram, CardOnReader)> {
    let (program, lines) = HostProgram::start(
        "kiosk-twins",
        &[
            "--reader-socket".into(),
            socket.into(),
            "--printer-listen".into(),
            format!("127.0.0.1:{PRINTER_PORT}").into(),
            "--receipts".into(),
            receipts.into(),
        ],
        &["reader on ", "printer on ", "card on the reader: "],
    )?;
    let card = lines
        .last()
        .and_then(|l| l.strip_prefix("card on the reader: "))
        .and_then(|l| l.split_once(' '))
        .map(|(id, name)| CardOnReader {
            id_number: id.to_string(),
            name: name.to_string(),
        })
        .context("kiosk-twins named no card")?;
    Ok((program, card))
}

/// The one-time enrollment code `kiosk-central-sim` takes in the lab.
pub const ENROLL_CODE: &str = "E2E-ENROLL-0001";

/// Where [`start_central`] writes the lab's fleet scraper: its certificate,
/// the CAs and a Prometheus config (`prometheus.yml`).
pub fn scraper_dir(state: &std::path::Path) -> std::path::PathBuf {
    state.join("scraper")
}

/// Starts `kiosk-central-sim` with the test central's certificate on
/// `127.0.0.1:CENTRAL_PORT`, state in `state`, wanting `token` from the
/// kiosk when given, taking [`ENROLL_CODE`] once, and writing the fleet
/// scraper's files into [`scraper_dir`].
pub fn start_central(state: &std::path::Path, token: Option<&str>) -> anyhow::Result<HostProgram> {
    let certs = images_dir().join("test-central");
    let mut args: Vec<std::ffi::OsString> = vec![
        "--listen".into(),
        format!("127.0.0.1:{CENTRAL_PORT}").into(),
        "--state".into(),
        state.into(),
        "--tls-cert".into(),
        certs.join("server.pem").into(),
        "--tls-key".into(),
        certs.join("server-key.pem").into(),
        "--tls-ca".into(),
        certs.join("ca.pem").into(),
        "--enroll-code".into(),
        ENROLL_CODE.into(),
        "--scraper-cert".into(),
        scraper_dir(state).into(),
    ];
    if let Some(t) = token {
        args.extend(["--token".into(), t.into()]);
    }
    HostProgram::start("kiosk-central-sim", &args, &["listening on https://"]).map(|(p, _)| p)
}

/// Names only the simulator and the twins have: none may be in the device
/// build. Release builds keep symbol names, so the crate and type names
/// would show.
const SIMULATOR_MARKERS: &[&str] = &[
    "kiosk_sim",
    "SimCentral",
    "FakeReader",
    "SimPrinter",
    "SimCamera",
    "SimGpio",
    "SimSpeaker",
];

/// Fails when the kiosk binary holds simulator or twin code, or has no
/// symbols to tell (a check that cannot fail is no check).
pub fn check_no_simulator(binary: &[u8]) -> anyhow::Result<()> {
    // memmem, not `windows().any()`: this tool builds at opt-level 0, where
    // the naive scan of a 60 MB binary for each marker took 39 s.
    let has = |needle: &str| memchr::memmem::find(binary, needle.as_bytes()).is_some();
    if !has("kiosk_drivers") {
        bail!("the kiosk binary has no symbol names: cannot check it holds no simulator");
    }
    let found: Vec<&str> = SIMULATOR_MARKERS
        .iter()
        .copied()
        .filter(|m| has(m))
        .collect();
    if !found.is_empty() {
        bail!(
            "the device build holds simulator or twin code: {}",
            found.join(", ")
        );
    }
    Ok(())
}

/// Healthy: the store open and the status answering (it is, or there would
/// be no snapshot), on the attract screen, no device in fault. Central is
/// unreachable on purpose, which the kiosk must tolerate.
pub fn check_status(s: &serde_json::Value) -> anyhow::Result<()> {
    if s["version"] != env!("CARGO_PKG_VERSION") {
        bail!(
            "/status reports version {}, expected {}",
            s["version"],
            env!("CARGO_PKG_VERSION")
        );
    }
    if s["flow_state"] != "attract" {
        bail!(
            "the kiosk is not on the attract screen: {}",
            s["flow_state"]
        );
    }
    if let Some(devs) = s["devices"].as_object() {
        for (name, h) in devs {
            if h["state"] == "fault" {
                bail!("device {name} is in fault: {}", h["detail"]);
            }
        }
    }
    Ok(())
}

/// The first line of the serial console's log holding `marker`, trimmed.
pub fn console_line(console: &std::path::Path, marker: &str) -> Option<String> {
    std::fs::read_to_string(console)
        .unwrap_or_default()
        .lines()
        .find(|l| l.contains(marker))
        .map(|l| l.trim().to_string())
}

/// The console check: read-only root, writable `/data`, kiosk active and
/// never restarted (so its watchdog pings arrive), no failed unit.
pub fn check_bootcheck(line: &str) -> anyhow::Result<()> {
    for want in [
        "root=ro",
        "data=rw",
        "kiosk=active",
        "restarts=0",
        "failed=none",
    ] {
        if !line.split_whitespace().any(|w| w == want) {
            bail!("boot check wants {want}: {line}");
        }
    }
    Ok(())
}

/// The console's HARDENING line: the kiosk unit's exposure score (at most
/// 2.0), magic SysRq off, Ctrl-Alt-Del masked, no USB keyboard left as an
/// input device, and (when the board has one plugged in) the keyboard's
/// interface refused. Returns the score.
pub fn check_hardening(line: &str, keyboard_plugged: bool) -> anyhow::Result<f64> {
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .with_context(|| format!("no {key}= in {line}"))
    };
    let score: f64 = field("security")?
        .parse()
        .with_context(|| format!("no exposure score in {line}"))?;
    if score > 2.0 {
        bail!("systemd-analyze security rates kiosk.service {score}, more than 2.0: {line}");
    }
    for (key, want) in [
        ("sysrq", "0"),
        ("ctrl-alt-del", "masked"),
        ("usb-keyboards", "0"),
    ] {
        if field(key)? != want {
            bail!("hardening wants {key}={want}: {line}");
        }
    }
    let refused: u32 = field("usb-refused")?.parse()?;
    if keyboard_plugged && refused == 0 {
        bail!("a USB keyboard was plugged in and no USB interface was refused: {line}");
    }
    Ok(score)
}

/// Compressed image only: decompresses to the raw image next to it.
pub fn ensure_raw(out: &Outputs) -> anyhow::Result<()> {
    let img = out.file(".img");
    let zst = out.file(".img.zst");
    if !img.exists() && zst.exists() {
        run(Command::new("zstd")
            .args(["-q", "-d", "--long=31"])
            .arg(&zst)
            .arg("-o")
            .arg(&img))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_check_finds_a_twin_and_refuses_a_stripped_binary() {
        let clean = b"...kiosk_drivers::id_card::serial::SerialCardReader...".to_vec();
        check_no_simulator(&clean).expect("clean");
        let mut with_twin = clean.clone();
        with_twin.extend_from_slice(b"kiosk_drivers::id_card::sim::FakeReader::run");
        let err = check_no_simulator(&with_twin).expect_err("a twin");
        assert!(err.to_string().contains("FakeReader"), "{err}");
        assert!(check_no_simulator(b"no names at all").is_err());
    }

    #[test]
    fn responses_parse_plain_and_chunked() {
        let r = parse_response("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").expect("parses");
        assert_eq!(
            r,
            Response {
                code: 200,
                body: "ok".into()
            }
        );
        let r = parse_response(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .expect("parses");
        assert_eq!(r.body, "abcde");
        assert_eq!(parse_response(""), None, "an empty reply is no answer");
    }

    #[test]
    fn http_get_talks_to_a_real_socket_with_the_token() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).expect("read");
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{\"a\"")
                .expect("write");
            req
        });
        let r = http_get(addr, "/status", Some("t0k")).expect("answer");
        assert_eq!(r.code, 200);
        let req = server.join().expect("server");
        assert!(req.starts_with("GET /status HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("Authorization: Bearer t0k\r\n"), "{req}");
    }

    #[test]
    fn nothing_listening_is_no_answer() {
        let port = free_port().expect("port");
        assert_eq!(
            http_get(SocketAddr::from(([127, 0, 0, 1], port)), "/", None),
            None
        );
    }

    #[test]
    fn status_health_rules() {
        let ok = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"), "flow_state": "attract",
            "devices": {"printer": {"state": "ok"}, "card_reader": {"state": "unknown"}}
        });
        assert!(check_status(&ok).is_ok());
        let mut fault = ok.clone();
        fault["devices"]["printer"] = serde_json::json!({"state": "fault", "detail": "paper out"});
        assert!(check_status(&fault)
            .expect_err("fault")
            .to_string()
            .contains("paper out"));
        let mut busy = ok.clone();
        busy["flow_state"] = "choose-business".into();
        assert!(check_status(&busy).is_err());
    }

    #[test]
    fn the_first_console_line_with_the_marker_is_found_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let console = dir.path().join("console.log");
        std::fs::write(
            &console,
            "[ 1.0] boot\r\nHARDENING security=1.5 sysrq=0\r\nBOOTCHECK root=ro\r\nBOOTCHECK root=rw\r\n",
        )
        .expect("write");
        assert_eq!(
            console_line(&console, "BOOTCHECK ").as_deref(),
            Some("BOOTCHECK root=ro")
        );
        assert_eq!(
            console_line(&console, "HARDENING ").as_deref(),
            Some("HARDENING security=1.5 sysrq=0")
        );
        assert_eq!(console_line(&console, "NOTHERE "), None);
        assert_eq!(
            console_line(&dir.path().join("absent.log"), "BOOTCHECK "),
            None
        );
    }

    #[test]
    fn bootcheck_needs_every_condition() {
        assert!(
            check_bootcheck("BOOTCHECK root=ro data=rw kiosk=active restarts=0 failed=none")
                .is_ok()
        );
        let err = check_bootcheck("BOOTCHECK root=rw data=rw kiosk=active restarts=0 failed=none")
            .expect_err("writable root");
        assert!(err.to_string().contains("root=ro"));
        assert!(
            check_bootcheck("BOOTCHECK root=ro data=rw kiosk=active failed=x.service").is_err()
        );
    }

    #[test]
    fn hardening_needs_every_condition() {
        let good =
            "HARDENING security=1.5 sysrq=0 ctrl-alt-del=masked usb-keyboards=0 usb-refused=1";
        assert_eq!(check_hardening(good, true).expect("good"), 1.5);
        for bad in [
            good.replace("1.5", "2.1"),
            good.replace("1.5", "unknown"),
            good.replace("sysrq=0", "sysrq=438"),
            good.replace("masked", "static"),
            good.replace("usb-keyboards=0", "usb-keyboards=1"),
            good.replace("usb-refused=1", "usb-refused=0"),
            good.replace(" sysrq=0", ""),
        ] {
            assert!(check_hardening(&bad, true).is_err(), "{bad}");
        }
        let no_keyboard = good.replace("usb-refused=1", "usb-refused=0");
        assert!(check_hardening(&no_keyboard, false).is_ok());
    }

    /// The unit as shipped, rated offline by the host's systemd (the same
    /// 252 as the image's): the e2e test rates it again on the booted board.
    #[test]
    fn the_kiosk_unit_rates_at_most_2_offline() {
        let unit = crate::def::files_dir().join("etc/systemd/system/kiosk.service");
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&unit)
            .output()
            .expect("systemd-analyze (package systemd, scripts/setup.sh installs it)");
        let text = String::from_utf8_lossy(&out.stdout);
        let score: f64 = text
            .lines()
            .find_map(|l| l.split("Overall exposure level for kiosk.service: ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no overall score: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert!(score <= 2.0, "kiosk.service rates {score}:\n{text}");
    }

    #[test]
    fn test_images_boot_on_the_definitions_port() {
        let def = ImageDef::load(&images_dir(), "qemu-virt").expect("loads");
        assert_eq!(guest_port(&def).expect("port"), 8700);
    }
}
