//! What a chaincode server needs to start: where to listen and its mutual-TLS
//! material, from files or environment variables.

use std::path::{Path, PathBuf};

use super::ServeError;

/// The variable naming the address to listen on (`host:port`).
pub const ENV_LISTEN: &str = "CHAINCODE_LISTEN";
/// The variable naming the server's TLS certificate file (PEM).
pub const ENV_TLS_CERT: &str = "CHAINCODE_TLS_CERT";
/// The variable naming the server's TLS private key file (PKCS#8 PEM).
pub const ENV_TLS_KEY: &str = "CHAINCODE_TLS_KEY";
/// The variable naming the client CA certificate files (PEM), separated as
/// in `PATH` (`:` on Unix).
pub const ENV_CLIENT_CA_CERTS: &str = "CHAINCODE_CLIENT_CA_CERTS";
/// The optional variable naming the chaincode in the server's ready line
/// (default: the program's file name).
pub const ENV_NAME: &str = "CHAINCODE_NAME";

/// The program's file name, as the ready line names a chaincode by default.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(Path::new)
        .and_then(Path::file_stem)
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "chaincode".to_owned())
}

/// How a chaincode server listens and authenticates.
///
/// Peers connect with their own TLS certificates: `client_ca_pem` holds the
/// CA certificates of the organisations whose peers may run the chaincode;
/// any other client is refused during the handshake.
#[derive(Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The chaincode's name in the line the server prints when it is ready
    /// (`chaincode <name> listening on <address>`): `CHAINCODE_NAME`, or
    /// the program's file name; see [`ServeConfig::with_name`].
    pub name: String,
    /// The address to listen on, e.g. `0.0.0.0:9999`.
    pub listen: String,
    /// The server's certificate chain, PEM. Its SAN must hold the host name
    /// peers dial (the host part of the definition's address).
    pub tls_cert_pem: String,
    /// The server's private key, PKCS#8 PEM.
    pub tls_key_pem: String,
    /// The CA certificates client (peer) certificates must chain to, PEM,
    /// one or more.
    pub client_ca_pem: String,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("name", &self.name)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

fn read(what: &'static str, path: &Path) -> Result<String, ServeError> {
    std::fs::read_to_string(path).map_err(|cause| ServeError::Read {
        what,
        path: path.to_path_buf(),
        cause,
    })
}

impl ServeConfig {
    /// Reads the certificate, key and client CA files (several client CA
    /// files are concatenated) and checks the result.
    pub fn from_files(
        listen: &str,
        tls_cert: &Path,
        tls_key: &Path,
        client_cas: &[PathBuf],
    ) -> Result<Self, ServeError> {
        if client_cas.is_empty() {
            return Err(ServeError::Invalid {
                field: "client_ca_pem",
                reason: "no client CA certificate file given".to_owned(),
            });
        }
        let mut client_ca_pem = String::new();
        for path in client_cas {
            client_ca_pem.push_str(&read("client CA certificate", path)?);
            client_ca_pem.push('\n');
        }
        Self {
            name: program_name(),
            listen: listen.to_owned(),
            tls_cert_pem: read("TLS certificate", tls_cert)?,
            tls_key_pem: read("TLS key", tls_key)?,
            client_ca_pem,
        }
        .validate()
    }

    /// Reads the configuration named by `CHAINCODE_LISTEN`,
    /// `CHAINCODE_TLS_CERT`, `CHAINCODE_TLS_KEY` and
    /// `CHAINCODE_CLIENT_CA_CERTS` (paths).
    pub fn from_env() -> Result<Self, ServeError> {
        let var = |name: &'static str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .ok_or(ServeError::MissingEnv(name))
        };
        let listen = var(ENV_LISTEN)?
            .into_string()
            .map_err(|_| ServeError::Invalid {
                field: "listen",
                reason: format!("{ENV_LISTEN} is not valid UTF-8"),
            })?;
        let cas: Vec<PathBuf> = std::env::split_paths(&var(ENV_CLIENT_CA_CERTS)?)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        let config = Self::from_files(
            &listen,
            Path::new(&var(ENV_TLS_CERT)?),
            Path::new(&var(ENV_TLS_KEY)?),
            &cas,
        )?;
        Ok(match std::env::var(ENV_NAME) {
            Ok(name) if !name.is_empty() => config.with_name(&name),
            _ => config,
        })
    }

    /// The same configuration, naming the chaincode `name` in the ready line.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Checks that the address is `host:port` and that each PEM holds what
    /// it should; says which field is wrong.
    pub fn validate(self) -> Result<Self, ServeError> {
        let invalid = |field, reason: String| ServeError::Invalid { field, reason };
        match self.listen.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
            _ => {
                return Err(invalid(
                    "listen",
                    format!("'{}' is not host:port", self.listen),
                ))
            }
        }
        let count = |pem: &str, tag: &str| -> Result<usize, String> {
            let blocks = pem::parse_many(pem).map_err(|e| e.to_string())?;
            Ok(blocks.iter().filter(|b| b.tag() == tag).count())
        };
        match count(&self.tls_cert_pem, "CERTIFICATE") {
            Ok(n) if n > 0 => {}
            Ok(_) => return Err(invalid("tls_cert_pem", "no CERTIFICATE in it".to_owned())),
            Err(e) => return Err(invalid("tls_cert_pem", e)),
        }
        match count(&self.tls_key_pem, "PRIVATE KEY") {
            Ok(1) => {}
            Ok(_) => {
                return Err(invalid(
                    "tls_key_pem",
                    "expected exactly one PKCS#8 PRIVATE KEY".to_owned(),
                ))
            }
            Err(e) => return Err(invalid("tls_key_pem", e)),
        }
        match count(&self.client_ca_pem, "CERTIFICATE") {
            Ok(n) if n > 0 => {}
            Ok(_) => return Err(invalid("client_ca_pem", "no CERTIFICATE in it".to_owned())),
            Err(e) => return Err(invalid("client_ca_pem", e)),
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_pem() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["cc".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn reads_files_and_says_which_field_is_wrong() {
        let dir = std::env::temp_dir().join(format!("cc-serve-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = cert_pem();
        let (ca, _) = cert_pem();
        std::fs::write(dir.join("tls.crt"), &cert).unwrap();
        std::fs::write(dir.join("tls.key"), &key).unwrap();
        std::fs::write(dir.join("ca1.crt"), &ca).unwrap();
        std::fs::write(dir.join("ca2.crt"), &cert).unwrap();
        let config = ServeConfig::from_files(
            "127.0.0.1:9999",
            &dir.join("tls.crt"),
            &dir.join("tls.key"),
            &[dir.join("ca1.crt"), dir.join("ca2.crt")],
        )
        .unwrap();
        assert!(config.client_ca_pem.contains(ca.trim()));
        assert!(config.client_ca_pem.contains(cert.trim()));

        let missing = ServeConfig::from_files(
            "127.0.0.1:9999",
            &dir.join("nope.crt"),
            &dir.join("tls.key"),
            &[dir.join("ca1.crt")],
        )
        .unwrap_err();
        assert!(missing.to_string().contains("TLS certificate"), "{missing}");
        assert!(missing.to_string().contains("nope.crt"), "{missing}");

        let bad_listen = ServeConfig {
            listen: "nowhere".into(),
            ..config.clone()
        };
        let err = bad_listen.validate().unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let key_as_cert = ServeConfig {
            tls_cert_pem: key.clone(),
            ..config.clone()
        };
        let err = key_as_cert.validate().unwrap_err();
        assert!(err.to_string().contains("tls_cert_pem"), "{err}");
        let no_cas = ServeConfig {
            client_ca_pem: String::new(),
            ..config
        };
        let err = no_cas.validate().unwrap_err();
        assert!(err.to_string().contains("client_ca_pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The only test of this crate that touches these variables.
    #[test]
    fn reads_the_environment_and_names_a_missing_variable() {
        let dir = std::env::temp_dir().join(format!("cc-serve-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = cert_pem();
        let (ca1, _) = cert_pem();
        let (ca2, _) = cert_pem();
        for (name, pem) in [
            ("tls.crt", &cert),
            ("tls.key", &key),
            ("a.crt", &ca1),
            ("b.crt", &ca2),
        ] {
            std::fs::write(dir.join(name), pem).unwrap();
        }
        std::env::remove_var(ENV_LISTEN);
        let missing = ServeConfig::from_env().unwrap_err();
        assert!(
            matches!(missing, ServeError::MissingEnv(ENV_LISTEN)),
            "{missing}"
        );
        assert!(
            missing.to_string().contains("CHAINCODE_LISTEN"),
            "{missing}"
        );
        std::env::set_var(ENV_LISTEN, "0.0.0.0:9999");
        std::env::set_var(ENV_TLS_CERT, dir.join("tls.crt"));
        std::env::set_var(ENV_TLS_KEY, dir.join("tls.key"));
        let cas = std::env::join_paths([dir.join("a.crt"), dir.join("b.crt")]).unwrap();
        std::env::set_var(ENV_CLIENT_CA_CERTS, cas);
        let config = ServeConfig::from_env().unwrap();
        assert_eq!(config.listen, "0.0.0.0:9999");
        assert_eq!(config.tls_key_pem, key);
        assert!(
            config.client_ca_pem.contains(ca1.trim()) && config.client_ca_pem.contains(ca2.trim())
        );
        for name in [ENV_LISTEN, ENV_TLS_CERT, ENV_TLS_KEY, ENV_CLIENT_CA_CERTS] {
            std::env::remove_var(name);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
