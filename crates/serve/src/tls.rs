//! Built-in TLS termination (issue 13 item 7), for a server that faces
//! browsers itself rather than behind a TLS-terminating proxy.
//!
//! - The certificate chain and key come from PEM files (the chain leaf
//!   first; the key PKCS#8, PKCS#1 RSA or SEC1 EC). A start-up refuses, with
//!   one line naming the file, a missing or unreadable file, PEM that holds
//!   no certificate or no key, a key rustls cannot use, and a key that is
//!   not the certificate's.
//! - TLS 1.2 and 1.3 only, on the aws-lc-rs provider (rustls has no older
//!   versions at all); ALPN offers `http/1.1`, the only protocol served.
//! - The files are read again every `reload_interval`: new content that
//!   loads is swapped in atomically for the next handshake (connections
//!   already open keep theirs); content that does not load (a renewal half
//!   written, a wrong key) keeps the previous certificate and is logged as
//!   one error, once per distinct content, so a broken file does not flood
//!   the log. Reading content rather than modification times also catches
//!   a file replaced within the same second.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Default interval between two reads of the certificate and key files.
pub const DEFAULT_TLS_RELOAD_INTERVAL_SECS: u64 = 10;

/// Where a server's certificate chain and private key are, and how often
/// they are read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's own certificate first.
    pub certificate: PathBuf,
    /// PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: PathBuf,
    pub reload_interval: Duration,
}

impl TlsFiles {
    pub fn new(certificate: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            certificate: certificate.into(),
            key: key.into(),
            reload_interval: Duration::from_secs(DEFAULT_TLS_RELOAD_INTERVAL_SECS),
        }
    }
}

/// Why a certificate and key cannot be served. The texts name files and
/// what is wrong with them, never their content.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} file {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the TLS certificate file {} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)",
        .0.display()
    )]
    NoCertificate(PathBuf),
    #[error("the TLS {what} file {} is not valid PEM ({reason})", path.display())]
    BadPem {
        what: &'static str,
        path: PathBuf,
        reason: &'static str,
    },
    #[error(
        "the TLS key file {} holds no PEM private key (PKCS#8 `BEGIN PRIVATE KEY`, RSA `BEGIN RSA PRIVATE KEY` or SEC1 `BEGIN EC PRIVATE KEY`)",
        .0.display()
    )]
    NoKey(PathBuf),
    #[error(
        "the private key in {} is not one TLS can use (RSA of 2048 bits or more, ECDSA P-256/P-384/P-521 or Ed25519)",
        .0.display()
    )]
    UnusableKey(PathBuf),
    #[error(
        "the private key in {} does not belong to the certificate in {}",
        key.display(),
        certificate.display()
    )]
    KeyMismatch { certificate: PathBuf, key: PathBuf },
    #[error("the certificate in {} cannot be parsed: {reason}", path.display())]
    BadCertificate { path: PathBuf, reason: String },
    #[error("cannot set up TLS: {0}")]
    Setup(rustls::Error),
}

/// A server's TLS: the rustls configuration and the certificate it
/// presents, which [`Tls::reload`] replaces when the files change.
#[derive(Clone)]
pub struct Tls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    resolver: Arc<ReloadingCert>,
    config: Arc<rustls::ServerConfig>,
    /// The files' content last seen: the one served, and the last one that
    /// failed to load (so its error is logged once).
    seen: Arc<Mutex<Seen>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

struct Seen {
    served: Vec<u8>,
    failed: Option<Vec<u8>>,
}

impl Tls {
    /// Loads the certificate and key, refusing anything that cannot be
    /// served (see [`TlsError`]).
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let content = read_files(&files)?;
        let certified = certified_key(&files, &content, &provider)?;
        let resolver = Arc::new(ReloadingCert(RwLock::new(Arc::new(certified))));
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Setup)?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            files,
            provider,
            resolver,
            config: Arc::new(config),
            seen: Arc::new(Mutex::new(Seen {
                served: content.joined(),
                failed: None,
            })),
        })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The acceptor for new connections (all share the current certificate).
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }

    /// The certificate chain presented now (the leaf first).
    pub fn current_chain(&self) -> Vec<CertificateDer<'static>> {
        self.resolver.current().cert.clone()
    }

    /// Reads the files once: new content that loads is served from the next
    /// handshake on (`Ok(true)`); unchanged content is `Ok(false)`; content
    /// that does not load is the error, and the previous certificate stays.
    pub fn reload(&self) -> Result<bool, TlsError> {
        match self.poll() {
            Poll::Unchanged => Ok(false),
            Poll::Replaced => Ok(true),
            Poll::Failed { error, .. } => Err(error),
        }
    }

    fn poll(&self) -> Poll {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let (signature, outcome) = match read_files(&self.files) {
            // A file missing or unreadable (perhaps between a renewal's
            // steps): what fails is told by the error's text.
            Err(error) => (error.to_string().into_bytes(), Err(error)),
            Ok(content) => {
                let joined = content.joined();
                if joined == seen.served {
                    seen.failed = None;
                    return Poll::Unchanged;
                }
                let loaded = certified_key(&self.files, &content, &self.provider);
                (joined, loaded)
            }
        };
        match outcome {
            Ok(certified) => {
                self.resolver.replace(certified);
                seen.served = signature;
                seen.failed = None;
                Poll::Replaced
            }
            Err(error) => {
                let first = seen.failed.as_ref() != Some(&signature);
                seen.failed = Some(signature);
                Poll::Failed { error, first }
            }
        }
    }

    /// Reads the files every `reload_interval` for as long as the server
    /// runs (the caller aborts the task), logging each new certificate and
    /// each new broken content once. (Two small files every few seconds:
    /// read on the runtime's thread rather than a blocking pool's.)
    pub async fn watch(self) {
        let mut ticks = tokio::time::interval(self.files.reload_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match self.poll() {
                Poll::Unchanged => {}
                Poll::Replaced => tracing::info!(
                    certificate = %self.files.certificate.display(),
                    "TLS certificate reloaded"
                ),
                Poll::Failed { error, first } => {
                    if first {
                        tracing::error!(
                            error = %error,
                            "the TLS certificate or key files changed but cannot be used; still serving the previous certificate"
                        );
                    }
                }
            }
        }
    }
}

/// What one read of the files found.
enum Poll {
    Unchanged,
    Replaced,
    /// `first`: not the same failure as the previous poll's.
    Failed {
        error: TlsError,
        first: bool,
    },
}

/// The certificate and key files' bytes.
struct Content {
    certificate: Vec<u8>,
    key: Vec<u8>,
}

impl Content {
    /// Both files in one value, to tell whether either changed.
    fn joined(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.certificate.len() + self.key.len() + 8);
        all.extend_from_slice(&(self.certificate.len() as u64).to_be_bytes());
        all.extend_from_slice(&self.certificate);
        all.extend_from_slice(&self.key);
        all
    }
}

fn read_files(files: &TlsFiles) -> Result<Content, TlsError> {
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            path: path.to_owned(),
            source,
        })
    };
    Ok(Content {
        certificate: read("certificate", &files.certificate)?,
        key: read("key", &files.key)?,
    })
}

fn pem_reason(e: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { .. } => "a section has no END line",
        Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        Error::Base64Decode(_) => "a section is not valid base64",
        _ => "it cannot be decoded",
    }
}

/// The certificate chain and key from the files' content, checked to belong
/// together.
fn certified_key(
    files: &TlsFiles,
    content: &Content,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(&content.certificate)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what: "certificate",
            path: files.certificate.clone(),
            reason: pem_reason(&e),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.certificate.clone()));
    }
    let key = match PrivateKeyDer::from_pem_slice(&content.key) {
        Ok(key) => key,
        Err(rustls_pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey(files.key.clone()));
        }
        Err(e) => {
            return Err(TlsError::BadPem {
                what: "key",
                path: files.key.clone(),
                reason: pem_reason(&e),
            });
        }
    };
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| TlsError::UnusableKey(files.key.clone()))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::KeyMismatch {
            certificate: files.certificate.clone(),
            key: files.key.clone(),
        }),
        Err(e) => Err(TlsError::BadCertificate {
            path: files.certificate.clone(),
            reason: e.to_string(),
        }),
    }
}

/// The certificate every new handshake gets; replaced whole, so a handshake
/// sees either the old chain and key or the new ones, never a mix.
#[derive(Debug)]
struct ReloadingCert(RwLock<Arc<CertifiedKey>>);

impl ReloadingCert {
    fn current(&self) -> Arc<CertifiedKey> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, certified: CertifiedKey) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broken replacement is reported once, not at every poll; a new
    /// breakage is reported again.
    #[test]
    fn issue13_item7_a_broken_file_is_reported_once_per_content()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
        let files = TlsFiles::new(dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&files.certificate, certified.cert.pem())?;
        std::fs::write(&files.key, certified.signing_key.serialize_pem())?;
        let tls = Tls::load(files.clone())?;
        let first = |poll: Poll| match poll {
            Poll::Failed { first, .. } => Some(first),
            Poll::Unchanged | Poll::Replaced => None,
        };
        assert_eq!(first(tls.poll()), None);
        std::fs::write(&files.key, "garbage")?;
        assert_eq!(first(tls.poll()), Some(true));
        assert_eq!(first(tls.poll()), Some(false));
        std::fs::write(&files.key, "other garbage")?;
        assert_eq!(first(tls.poll()), Some(true));
        std::fs::remove_file(&files.key)?;
        assert_eq!(first(tls.poll()), Some(true));
        assert_eq!(first(tls.poll()), Some(false));
        // Repaired: served again (unchanged content), and nothing failing.
        std::fs::write(&files.key, certified.signing_key.serialize_pem())?;
        assert_eq!(first(tls.poll()), None);
        assert_eq!(tls.current_chain()[0], *certified.cert.der());
        Ok(())
    }
}
