//! The status endpoint over TLS, optionally with client certificates
//! (mutual TLS): central's monitoring presents a certificate signed by the
//! fleet CA from the config, and anything else is refused in the handshake,
//! before a single HTTP byte. The bearer token and the rate limit still
//! apply on top (`[status.tls]` in the config).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::status::{router_limited, RateLimit, Snapshot};

/// `[status.tls]`: the endpoint's certificate and key, and the CA whose
/// client certificates it accepts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TlsConfig {
    /// PEM certificate chain of the endpoint.
    pub cert: PathBuf,
    /// PEM private key of the endpoint.
    pub key: PathBuf,
    /// PEM CA certificate(s): when set, clients must present a certificate
    /// signed by one of them (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS endpoint cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {detail}")]
    Pem {
        /// Which file.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// rustls refused the material.
    #[error("TLS setup: {0}")]
    Rustls(String),
}

fn pem_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(String) -> TlsSetupError + 'a {
    move |detail| TlsSetupError::Pem {
        what,
        path: path.to_owned(),
        detail,
    }
}

/// The PEM file at `path`, read once, holding at least one certificate.
fn read_certs(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    let pem = std::fs::read(path).map_err(|e| pem_err(what, path)(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(what, path)(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err(what, path)("no certificate in the file".into()));
    }
    Ok(pem)
}

/// Builds the acceptor: TLS 1.2/1.3 with ring, the endpoint's certificate,
/// and client verification against `client_ca` when configured.
pub fn acceptor(cfg: &TlsConfig) -> Result<TlsAcceptor, TlsSetupError> {
    let chain = read_certs("the endpoint certificate", &cfg.cert)?;
    let key = std::fs::read(&cfg.key)
        .map_err(|e| pem_err("the endpoint key", &cfg.key)(e.to_string()))?;
    let served = ServedCert::from_pem(&chain, &key)
        .map_err(|e| pem_err("the endpoint key", &cfg.key)(e.to_string()))?;
    let client_ca = cfg
        .client_ca
        .as_ref()
        .map(|ca| read_certs("the client CA", ca))
        .transpose()?;
    acceptor_with(served, client_ca.as_deref(), ClientAuth::Required)
}

/// Whether a client without a certificate gets past the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Refused in the handshake (the status endpoint).
    Required,
    /// Let through; the routes decide (central: enrollment needs no
    /// certificate, everything else does once a kiosk is enrolled).
    Optional,
}

/// The certificate an endpoint serves, replaceable while it runs (a
/// renewed certificate takes effect from the next handshake).
#[derive(Debug)]
pub struct ServedCert(std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>);

impl ServedCert {
    fn certified(
        chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<rustls::sign::CertifiedKey, TlsSetupError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsSetupError::Rustls(format!("the certificate: {e}")))?;
        if chain.is_empty() {
            return Err(TlsSetupError::Rustls("no certificate in the chain".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsSetupError::Rustls(format!("the key: {e}")))?;
        let provider = rustls::crypto::ring::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
        let certified = rustls::sign::CertifiedKey::new(chain, signing);
        certified
            .keys_match()
            .map_err(|e| TlsSetupError::Rustls(format!("the key is not the certificate's: {e}")))?;
        Ok(certified)
    }

    /// From a PEM chain (the endpoint's certificate first) and its key.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Arc<Self>, TlsSetupError> {
        Ok(Arc::new(Self(std::sync::RwLock::new(Arc::new(
            Self::certified(chain_pem, key_pem)?,
        )))))
    }

    /// Serves `chain_pem` and `key_pem` from the next handshake on.
    pub fn replace(&self, chain_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsSetupError> {
        let next = Arc::new(Self::certified(chain_pem, key_pem)?);
        match self.0.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }
}

impl rustls::server::ResolvesServerCert for ServedCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        })
    }
}

/// An acceptor serving `served`, with client certificates checked against
/// `client_ca_pem` (PEM, one or more CAs) when given.
pub fn acceptor_with(
    served: Arc<ServedCert>,
    client_ca_pem: Option<&[u8]>,
    auth: ClientAuth,
) -> Result<TlsAcceptor, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    let builder = match client_ca_pem {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca) {
                let c = c.map_err(|e| TlsSetupError::Rustls(format!("the client CA: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match auth {
                ClientAuth::Required => verifier,
                ClientAuth::Optional => verifier.allow_unauthenticated(),
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(served);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The certificate a client presented (DER, its own first), verified in
/// the handshake: an extension of every request on that connection.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Arc<Vec<u8>>);

/// Serves the status routes over TLS on `listener` until `shutdown`
/// completes. A failed handshake (no or a foreign client certificate, plain
/// HTTP, a stalled peer after 10 s) closes that connection only.
pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    rx: watch::Receiver<Snapshot>,
    token: Option<String>,
    limit: Option<RateLimit>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(
        listener,
        acceptor,
        router_limited(rx, token, limit),
        shutdown,
    )
    .await
}

/// Serves any axum router over TLS on `listener` until `shutdown`
/// completes (the status endpoint; the standalone central simulator). A
/// failed handshake closes that connection only.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("status endpoint accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake refused: {e}");
                        return;
                    }
                    Err(_) => return,
                };
            let app = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                Some(c) => app.layer(axum::Extension(PeerCertificate(Arc::new(c.to_vec())))),
                None => app,
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    fn config(mutual: bool) -> TlsConfig {
        TlsConfig {
            cert: fixture("server.pem"),
            key: fixture("server-key.pem"),
            client_ca: mutual.then(|| fixture("ca.pem")),
        }
    }

    async fn start(cfg: &TlsConfig) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_tx, rx) = watch::channel(Snapshot::new("0.1.0", Utc::now()));
        let acceptor = acceptor(cfg).unwrap();
        tokio::spawn(async move {
            let _keep = _tx;
            serve(
                listener,
                acceptor,
                rx,
                Some("tok".into()),
                None,
                std::future::pending(),
            )
            .await
        });
        addr
    }

    fn client(identity: Option<(&str, &str)>) -> reqwest::Client {
        let ca = std::fs::read(fixture("ca.pem")).unwrap();
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .timeout(Duration::from_secs(5));
        if let Some((cert, key)) = identity {
            let mut pem = std::fs::read(fixture(cert)).unwrap();
            pem.extend(std::fs::read(fixture(key)).unwrap());
            b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        b.build().unwrap()
    }

    async fn status(c: &reqwest::Client, addr: std::net::SocketAddr) -> Result<u16, String> {
        c.get(format!("https://127.0.0.1:{}/status", addr.port()))
            .bearer_auth("tok")
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn mutual_tls_admits_the_fleet_ca_and_refuses_the_rest() {
        let addr = start(&config(true)).await;
        assert_eq!(
            status(&client(Some(("client.pem", "client-key.pem"))), addr).await,
            Ok(200)
        );
        assert!(
            status(&client(None), addr).await.is_err(),
            "no client certificate"
        );
        assert!(
            status(
                &client(Some(("rogue-client.pem", "rogue-client-key.pem"))),
                addr
            )
            .await
            .is_err(),
            "a certificate from another CA"
        );
        // Plain HTTP on the TLS port gets nothing either.
        let plain = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/status", addr.port()))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        assert!(plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()));
        // The token still applies on top of the certificate.
        let no_token = client(Some(("client.pem", "client-key.pem")))
            .get(format!("https://127.0.0.1:{}/status", addr.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(no_token.status().as_u16(), 401);
    }

    #[tokio::test]
    async fn server_only_tls_needs_no_client_certificate() {
        let addr = start(&config(false)).await;
        assert_eq!(status(&client(None), addr).await, Ok(200));
    }

    /// The central client's TLS (here against this endpoint, which speaks
    /// the same rustls): the CA of `central.ca_cert` vouches for the server,
    /// and a server certificate from another CA is refused. (That the
    /// system's and bundled roots are switched off with it is not visible
    /// here: neither knows the fixture CA.)
    #[tokio::test]
    async fn the_central_client_trusts_its_configured_ca() {
        let addr = start(&config(false)).await;
        let central = |ca: &str| {
            let mut c = crate::central::client::ClientConfig::new("https://127.0.0.1");
            c.ca_cert_pem = Some(fixture(ca));
            crate::central::client::http_client(&c).unwrap()
        };
        assert_eq!(status(&central("ca.pem"), addr).await, Ok(200));
        let refused = status(&central("rogue-ca.pem"), addr).await;
        assert!(refused.is_err(), "{refused:?}");
    }

    #[test]
    fn missing_or_wrong_material_is_a_clear_error() {
        let mut cfg = config(true);
        cfg.key = fixture("nowhere.pem");
        let e = acceptor(&cfg).err().expect("error").to_string();
        assert!(
            e.contains("endpoint key") && e.contains("nowhere.pem"),
            "{e}"
        );
        let mut cfg = config(true);
        cfg.client_ca = Some(fixture("README.md"));
        let e = acceptor(&cfg).err().expect("error").to_string();
        assert!(e.contains("client CA"), "{e}");
    }
}
