//! The kiosk's configuration: one TOML file (`/etc/kiosk/kiosk.toml` on the
//! device), every field defaulted in code and documented in
//! `docs/configuration.md`; unknown fields are refused so a typo is an error
//! at start-up, not a silently ignored setting.
//!
//! The file has a format ([`CONFIG_FORMAT`], `format = N` at the top; absent
//! means 1). Settings are only ever added, never renamed or retyped; a
//! kiosk that adds some raises the format. `/data` is shared by both root
//! slots, so after a rollback an older kiosk may find a file written for a
//! newer format: it applies what it knows and names the rest in the journal
//! instead of refusing to start ([`Config::parse`]). In a file of its own
//! format or older, an unknown setting is a typo and refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::flow::FlowConfig;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why (names the field).
        source: toml::de::Error,
    },
    /// A setting this kiosk does not know, in a file of its own format or
    /// older: a typo.
    #[error("invalid config {path}: unknown field `{field}` (this kiosk reads config format {CONFIG_FORMAT}; the file says format {format})")]
    Unknown {
        /// The file.
        path: PathBuf,
        /// The setting, dotted (`devices.printer_colour`).
        field: String,
        /// The file's format.
        format: u32,
    },
    /// A value is out of its allowed range.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The format of `kiosk.toml` this kiosk reads in full (see the module doc).
pub const CONFIG_FORMAT: u32 = 1;

fn first_format() -> u32 {
    1
}

/// Deserializes TOML, naming every key the target type does not know
/// (dotted paths) instead of failing on it.
pub fn from_toml_noting_unknown<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<(T, Vec<String>), toml::de::Error> {
    let mut unknown = Vec::new();
    let value = serde_ignored::deserialize(toml::Deserializer::new(text), |path| {
        // serde_ignored writes an `Option` as a `?` step: a technician
        // reads `devices.camera.fps`.
        unknown.push(path.to_string().replace(".?", ""))
    })?;
    Ok((value, unknown))
}

/// A config as read ([`Config::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The settings this kiosk knows.
    pub config: Config,
    /// Settings of a newer format this kiosk left out (dotted paths).
    pub ignored: Vec<String>,
}

/// Why a config cannot serve citizens ([`Config::check_deployable`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused: {field}: {why}")]
pub struct Refusal {
    /// The field at fault, as written in `kiosk.toml`.
    pub field: &'static str,
    /// Why, and what to write instead.
    pub why: String,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The file's format ([`CONFIG_FORMAT`]); absent means 1.
    #[serde(default = "first_format")]
    pub format: u32,
    /// Device id: prefixes local order ids; unique in the fleet.
    pub device_id: String,
    /// Where the store, keys and logs live (`/data` on the device).
    pub data_dir: PathBuf,
    /// Status endpoint.
    pub status: StatusConfig,
    /// Central service.
    pub central: CentralConfig,
    /// Outbox sync.
    pub sync: SyncConfig,
    /// Business flow (`[flow]`): businesses and methods offered, limits, timeouts.
    pub flow: FlowConfig,
    /// Devices.
    pub devices: DevicesConfig,
    /// What the receipt says.
    pub receipt: ReceiptConfig,
    /// The local face check: models, input sizes, thresholds, liveness.
    pub face: crate::face::config::FaceConfig,
    /// GPIO lines (presence, status LED, camera light, tamper); none by default.
    pub gpio: kiosk_drivers::gpio::GpioConfig,
    /// The touchscreen: voice guidance, technician PIN.
    pub ui: crate::gui::UiConfig,
    /// Updates over the air (RAUC bundles central offers).
    pub update: crate::update::UpdateConfig,
    /// The kiosk's own certificate: its status address, renewal.
    pub identity: crate::enroll::IdentityConfig,
    /// Whether the system clock is synchronised (`[clock]`).
    pub clock: crate::clock::ClockConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            format: CONFIG_FORMAT,
            device_id: "K001".into(),
            data_dir: PathBuf::from("/data"),
            status: StatusConfig::default(),
            central: CentralConfig::default(),
            sync: SyncConfig::default(),
            flow: FlowConfig::default(),
            devices: DevicesConfig::default(),
            receipt: ReceiptConfig::default(),
            face: crate::face::config::FaceConfig::default(),
            gpio: kiosk_drivers::gpio::GpioConfig::default(),
            ui: crate::gui::UiConfig::default(),
            update: crate::update::UpdateConfig::default(),
            identity: crate::enroll::IdentityConfig::default(),
            clock: crate::clock::ClockConfig::default(),
        }
    }
}

/// The status endpoint polled by central servers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct StatusConfig {
    /// Listen address.
    pub addr: SocketAddr,
    /// Bearer token; with neither this, `token_file` nor mutual TLS `kiosk run`
    /// refuses to start (an open `/status` is only for tests that build the
    /// endpoint themselves).
    pub token: Option<String>,
    /// File holding the token (first-boot provisioning writes one); used when `token` is unset.
    pub token_file: Option<PathBuf>,
    /// Requests per second `/status` and `/metrics` answer (a fleet scrapes
    /// each kiosk every few seconds at most); `None` for no limit.
    pub rate_limit: Option<crate::status::RateLimit>,
    /// Serve over TLS, with client certificates when `client_ca` is set.
    pub tls: Option<crate::status_tls::TlsConfig>,
}

impl Default for StatusConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([0, 0, 0, 0], 8700)),
            token: None,
            token_file: None,
            rate_limit: Some(crate::status::RateLimit {
                per_second: 20.0,
                burst: 40.0,
            }),
            tls: None,
        }
    }
}

/// The central service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct CentralConfig {
    /// Base URL, e.g. `https://central.example/`. No default: a kiosk that
    /// does not know its central refuses to start.
    pub url: String,
    /// Device token sent as a bearer token.
    pub token: Option<String>,
    /// CA certificate (PEM) that signs the central service's certificate;
    /// when set, the only CA trusted for central (otherwise the system's
    /// store and the bundled Mozilla roots).
    pub ca_cert: Option<PathBuf>,
    /// Timeout of one call, milliseconds.
    pub timeout_ms: u64,
    /// Largest response body accepted, bytes.
    pub max_response_bytes: usize,
    /// Lets `kiosk run` talk to central over plain `http://` (a lab only:
    /// citizens' data would cross the network in clear).
    pub allow_insecure_central: bool,
}

impl Default for CentralConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: None,
            ca_cert: None,
            timeout_ms: 5_000,
            max_response_bytes: 1 << 20,
            allow_insecure_central: false,
        }
    }
}

/// Outbox sync.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct SyncConfig {
    /// First retry delay, milliseconds; doubles per failure.
    pub backoff_base_ms: u64,
    /// Largest retry delay, seconds.
    pub backoff_max_secs: u64,
    /// How long the kiosk waits for central right after acceptance before
    /// printing "pending sync", milliseconds.
    pub immediate_timeout_ms: u64,
    /// Days after acceptance that a synced order keeps its personal fields
    /// here (central holds the record); 0 keeps them.
    pub retention_days: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            backoff_base_ms: 1_000,
            backoff_max_secs: 300,
            immediate_timeout_ms: 2_000,
            retention_days: 90,
        }
    }
}

/// Which implementation drives each device.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct DevicesConfig {
    /// The ID-card reader.
    pub card_reader: CardReaderConfig,
    /// The receipt printer.
    pub printer: PrinterSection,
    /// The camera of the face check (V4L2); needed when `flow.identity_methods` has `face`.
    pub camera: Option<kiosk_drivers::camera::CameraConfig>,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        Self {
            card_reader: CardReaderConfig::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: default_baud(),
            },
            printer: PrinterSection::default(),
            camera: None,
        }
    }
}

/// The ID-card reader backend.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
pub enum CardReaderConfig {
    /// The reader twin (`kiosk demo` only; `kiosk run` refuses it).
    Sim,
    /// A GA/T 467 reader on a serial port.
    Serial {
        /// Device path, e.g. `/dev/ttyUSB0`.
        path: String,
        /// Baud rate (115200 by default).
        #[serde(default = "default_baud")]
        baud: u32,
    },
}

fn default_baud() -> u32 {
    115_200
}

/// The receipt printer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct PrinterSection {
    /// Where the ESC/POS bytes go.
    pub sink: PrinterSink,
    /// Head width in dots: 384 (58 mm) or 576 (80 mm).
    pub width_dots: u32,
    /// Font file (TTF/TTC) with CJK glyphs; `None` searches the usual places.
    pub font: Option<PathBuf>,
}

impl Default for PrinterSection {
    fn default() -> Self {
        Self {
            sink: PrinterSink::File {
                path: PathBuf::from("/dev/usb/lp0"),
            },
            width_dots: 384,
            font: None,
        }
    }
}

/// Where the ESC/POS stream goes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
pub enum PrinterSink {
    /// The printer twin (`kiosk demo` only; `kiosk run` refuses it).
    Sim,
    /// A device file such as `/dev/usb/lp0`.
    File {
        /// Path.
        path: PathBuf,
    },
    /// A serial port.
    Serial {
        /// Path.
        path: String,
        /// Baud rate.
        #[serde(default = "default_baud")]
        baud: u32,
    },
    /// A network printer (port 9100).
    Tcp {
        /// Address.
        addr: SocketAddr,
    },
}

/// Fixed texts of the receipt.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReceiptConfig {
    /// Title line.
    pub title: String,
    /// Service phone printed at the bottom.
    pub service_phone: String,
    /// Prefix of the progress-query QR code; the order id is appended.
    pub progress_url: String,
    /// Where a signed contract can be read; its version is appended.
    pub contract_url: String,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        Self {
            title: "供电营业厅自助服务 受理回执".into(),
            service_phone: "95598".into(),
            progress_url: "kiosk://progress/".into(),
            contract_url: "https://95598.example.invalid/contracts/".into(),
        }
    }
}

impl Config {
    /// Reads and validates a config file; settings of a newer format it
    /// leaves out are named in the journal (keys only, never values).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let parsed = Self::parse(&text, path)?;
        if !parsed.ignored.is_empty() {
            tracing::warn!(
                "{} is written for config format {}, this kiosk reads format {CONFIG_FORMAT}: ignored the settings it does not know: {}",
                path.display(),
                parsed.config.format,
                parsed.ignored.join(", ")
            );
        }
        Ok(parsed.config)
    }

    /// Parses and validates `text` (read from `path`, named in errors). An
    /// unknown setting is refused, unless the file is of a newer format
    /// than [`CONFIG_FORMAT`]: then it is left out and named in
    /// [`Parsed::ignored`].
    pub fn parse(text: &str, path: &Path) -> Result<Parsed, ConfigError> {
        let (config, ignored): (Config, Vec<String>) =
            from_toml_noting_unknown(text).map_err(|source| ConfigError::Parse {
                path: path.to_owned(),
                source,
            })?;
        if config.format <= CONFIG_FORMAT {
            if let Some(field) = ignored.into_iter().next() {
                return Err(ConfigError::Unknown {
                    path: path.to_owned(),
                    field,
                    format: config.format,
                });
            }
            config.validate()?;
            return Ok(Parsed {
                config,
                ignored: Vec::new(),
            });
        }
        config.validate()?;
        Ok(Parsed { config, ignored })
    }

    /// Checks ranges serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        crate::device_id::check(&self.device_id)
            .map_err(|e| ConfigError::Invalid(format!("device_id: {e}")))?;
        if !matches!(self.devices.printer.width_dots, 384 | 576) {
            return bad("devices.printer.width_dots must be 384 or 576");
        }
        let f = &self.flow;
        if !(f.low_voltage_kw > 0.0 && f.micro_park_kw >= f.low_voltage_kw) {
            return bad("flow: need 0 < low_voltage_kw <= micro_park_kw");
        }
        if f.idle_secs < 10 || f.warn_secs < 5 || f.elderly_factor < 1 {
            return bad("flow: idle_secs >= 10, warn_secs >= 5, elderly_factor >= 1");
        }
        if f.commitment_days < 1 || f.commitment_max_days < f.commitment_days {
            return bad("flow: 1 <= commitment_days <= commitment_max_days");
        }
        if let Some(h) = &f.staff_pin_argon2 {
            crate::staff::PinHash::parse(h)
                .map_err(|e| ConfigError::Invalid(format!("flow.staff_pin_argon2: {e}")))?;
        }
        if self.central.timeout_ms == 0 {
            return bad("central.timeout_ms must be positive");
        }
        self.gpio.check().map_err(ConfigError::Invalid)?;
        self.update.validate().map_err(ConfigError::Invalid)?;
        self.identity.validate().map_err(ConfigError::Invalid)?;
        Ok(())
    }

    /// What a kiosk serving citizens must not run on, checked by `kiosk run`
    /// and `kiosk self-test` (so provisioning refuses such a drop on the
    /// boot partition) in every build:
    /// - a simulated central, card reader or printer (`"sim"`): orders
    ///   would be "synced" into memory and lost at the next restart;
    /// - central over plain `http://`, unless `central.allow_insecure_central`
    ///   says this is a lab;
    /// - a status endpoint that answers anyone: neither a token (inline or
    ///   `token_file`), nor TLS with client certificates, nor an enrolled
    ///   identity (`DATA/identity.json`, whose endpoint is mutual TLS).
    ///
    /// The refusal names the field, in one line.
    pub fn check_deployable(&self) -> Result<(), Refusal> {
        let refuse = |field: &'static str, why: &str| {
            Err(Refusal {
                field,
                why: why.to_owned(),
            })
        };
        let url = self.central.url.trim();
        if url.is_empty() {
            return refuse(
                "central.url",
                "not set: name the central service's https:// URL",
            );
        }
        if url == "sim" {
            return refuse(
                "central.url",
                "\"sim\" is the simulator, which keeps orders in memory: name the real central service",
            );
        }
        if url.starts_with("http://") {
            if !self.central.allow_insecure_central {
                return refuse(
                    "central.url",
                    "plain http:// sends citizens' data in clear: use https://, or set central.allow_insecure_central = true in a lab",
                );
            }
        } else if !url.starts_with("https://") {
            return refuse("central.url", "must start with https://");
        }
        if self.devices.card_reader == CardReaderConfig::Sim {
            return refuse(
                "devices.card_reader",
                "kind = \"sim\" is the simulated reader: name the serial port (kind = \"serial\")",
            );
        }
        if self.devices.printer.sink == PrinterSink::Sim {
            return refuse(
                "devices.printer.sink",
                "kind = \"sim\" is the simulated printer: name the device file, serial port or TCP address",
            );
        }
        let mutual_tls = self
            .status
            .tls
            .as_ref()
            .is_some_and(|t| t.client_ca.is_some());
        let enrolled = self.data_dir.join(crate::enroll::FILE).is_file();
        if self.status.token.is_none()
            && self.status.token_file.is_none()
            && !mutual_tls
            && !enrolled
        {
            return refuse(
                "status",
                "answers anyone: set status.token_file (or status.token), or status.tls with client_ca",
            );
        }
        Ok(())
    }

    /// The status token: inline, else read from `token_file`.
    pub fn status_token(&self) -> Result<Option<String>, ConfigError> {
        if let Some(t) = &self.status.token {
            return Ok(Some(t.clone()));
        }
        match &self.status.token_file {
            None => Ok(None),
            Some(p) => std::fs::read_to_string(p)
                .map(|t| Some(t.trim().to_string()))
                .map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_defaults() {
        let c: Config = toml::from_str("").expect("parses");
        assert_eq!(c, Config::default());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn a_full_device_config_parses() {
        let c: Config = toml::from_str(
            r#"
            device_id = "HZ-XH-007"
            data_dir = "/data"
            [status]
            addr = "0.0.0.0:8700"
            token_file = "/data/status.token"
            [central]
            url = "https://central.example/"
            ca_cert = "/etc/kiosk/central-ca.pem"
            [flow]
            businesses = ["new-connection"]
            identity_methods = ["id-card"]
            idle_secs = 120
            [devices.card_reader]
            kind = "serial"
            path = "/dev/ttyUSB0"
            [devices.printer]
            width_dots = 576
            sink = { kind = "file", path = "/dev/usb/lp0" }
            "#,
        )
        .expect("parses");
        assert!(c.validate().is_ok());
        assert_eq!(
            c.devices.card_reader,
            CardReaderConfig::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 115_200
            }
        );
        assert_eq!(c.flow.idle_secs, 120);
        assert_eq!(c.flow.capacity().low_voltage_kw, 160.0);
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let path = Path::new("/data/kiosk/kiosk.toml");
        for (text, field) in [
            ("[status]\nadress = \"0.0.0.0:1\"\n", "status.adress"),
            ("printer_colour = \"red\"\n", "printer_colour"),
            ("[gpio]\nled = { pin = 1 }\n", "gpio.led"),
            ("[devices.camera]\nfps = 30\n", "devices.camera.fps"),
            (
                "[face.detector]\ninput_widht = 320\n",
                "face.detector.input_widht",
            ),
            (
                "format = 1\n[update]\nwindow = \"02:00-05:00\"\n",
                "update.window",
            ),
        ] {
            let err = Config::parse(text, path).expect_err("typo refused");
            assert!(
                err.to_string()
                    .contains(&format!("unknown field `{field}`")),
                "{text}: {err}"
            );
        }
    }

    /// Downgrade: a file a newer kiosk wrote (a higher format, settings
    /// this one does not know) is read for what this kiosk knows; its own
    /// settings are applied, the others named. Upgrade: a file without a
    /// format (every file before formats existed) reads as format 1.
    #[test]
    fn a_newer_format_is_read_for_what_this_kiosk_knows() {
        let path = Path::new("/data/kiosk/kiosk.toml");
        let newer = format!(
            "format = {}\ndevice_id = \"HZ-1\"\nscreen_saver = true\n[update]\ncheck_every_secs = 600\nchannel = \"beta\"\n[devices.printer]\nwidth_dots = 576\ncutter = \"partial\"\n[queue]\nticket_printer = true\n",
            CONFIG_FORMAT + 1
        );
        let parsed = Config::parse(&newer, path).expect("a newer format is read");
        assert_eq!(parsed.config.device_id, "HZ-1");
        assert_eq!(parsed.config.update.check_every_secs, 600);
        assert_eq!(parsed.config.devices.printer.width_dots, 576);
        assert_eq!(
            parsed.ignored,
            vec![
                "screen_saver".to_string(),
                "update.channel".into(),
                "devices.printer.cutter".into(),
                "queue".into()
            ]
        );
        // What it does know is still checked: a newer file is no way around
        // a wrong value.
        let bad = format!(
            "format = {}\n[devices.printer]\nwidth_dots = 100\n",
            CONFIG_FORMAT + 1
        );
        assert!(Config::parse(&bad, path).is_err());
        let wrong_type = format!("format = {}\nsync = 5\n", CONFIG_FORMAT + 1);
        assert!(matches!(
            Config::parse(&wrong_type, path),
            Err(ConfigError::Parse { .. })
        ));
        let old = Config::parse("device_id = \"HZ-1\"\n", path).expect("no format");
        assert_eq!(old.config.format, 1);
        assert!(old.ignored.is_empty());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let mut c = Config::default();
        c.devices.printer.width_dots = 500;
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.flow.micro_park_kw = 100.0;
        assert!(c.validate().is_err());
        let c = Config {
            device_id: "K 1".into(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn the_time_zone_is_a_utc_offset() {
        let c: Config = toml::from_str("[flow]\ntime_zone = \"+05:30\"\n").expect("parses");
        assert_eq!(c.flow.time_zone.0.local_minus_utc(), 5 * 3600 + 30 * 60);
        assert_eq!(
            Config::default().flow.time_zone.0.local_minus_utc(),
            8 * 3600
        );
        let err = toml::from_str::<Config>("[flow]\ntime_zone = \"Asia/Shanghai\"\n")
            .expect_err("a zone name is not an offset");
        assert!(err.to_string().contains("time_zone"), "{err}");
    }

    fn deployable() -> Config {
        toml::from_str(
            r#"
            device_id = "K-1A2B3C4D"
            [status]
            token_file = "/data/kiosk/status.token"
            [central]
            url = "https://central.example/"
            [devices.card_reader]
            kind = "serial"
            path = "/dev/ttyUSB0"
            [devices.printer]
            sink = { kind = "tcp", addr = "10.0.2.2:9100" }
            "#,
        )
        .expect("parses")
    }

    #[test]
    fn a_device_config_with_real_parts_is_deployable() {
        assert_eq!(deployable().check_deployable(), Ok(()));
        let mut lab = deployable();
        lab.central.url = "http://10.0.2.2:8443/".into();
        lab.central.allow_insecure_central = true;
        assert_eq!(lab.check_deployable(), Ok(()));
        let mut mtls = deployable();
        mtls.status.token_file = None;
        mtls.status.tls = Some(crate::status_tls::TlsConfig {
            cert: "/data/kiosk/status.pem".into(),
            key: "/data/kiosk/status.key".into(),
            client_ca: Some("/etc/kiosk/fleet-ca.pem".into()),
        });
        assert_eq!(mtls.check_deployable(), Ok(()));
    }

    #[test]
    fn fakes_clear_text_and_an_open_status_endpoint_are_refused_by_field() {
        let refused = |c: Config, field: &str| {
            let r = c.check_deployable().expect_err("refused");
            assert_eq!(r.field, field, "{r}");
            assert_eq!(r.to_string().lines().count(), 1, "{r}");
        };
        refused(Config::default(), "central.url");
        let mut c = deployable();
        c.central.url = "sim".into();
        refused(c, "central.url");
        let mut c = deployable();
        c.central.url = "http://10.0.2.2:8443/".into();
        refused(c, "central.url");
        let mut c = deployable();
        c.central.url = "ftp://central.example/".into();
        refused(c, "central.url");
        let mut c = deployable();
        c.devices.card_reader = CardReaderConfig::Sim;
        refused(c, "devices.card_reader");
        let mut c = deployable();
        c.devices.printer.sink = PrinterSink::Sim;
        refused(c, "devices.printer.sink");
        let mut c = deployable();
        c.status.token_file = None;
        refused(c.clone(), "status");
        c.status.tls = Some(crate::status_tls::TlsConfig {
            cert: "/data/kiosk/status.pem".into(),
            key: "/data/kiosk/status.key".into(),
            client_ca: None,
        });
        refused(c, "status");
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("t");
        std::fs::write(&p, "secret\n").expect("write");
        let mut c = Config::default();
        c.status.token_file = Some(p);
        assert_eq!(c.status_token().expect("reads").as_deref(), Some("secret"));
    }
}

#[cfg(test)]
mod example_file {
    #[test]
    fn the_documented_example_parses_and_validates() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/kiosk.example.toml");
        let c = super::Config::from_file(&path).expect("example is valid");
        assert_eq!(c.device_id, "HZ-XH-007");
    }
}
