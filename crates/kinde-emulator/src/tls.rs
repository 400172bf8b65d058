//! HTTPS with a certificate made at start: a throwaway CA and a `localhost` certificate it signs.
//!
//! Several Kinde SDKs build `https://` URLs from a domain and cannot be told otherwise. Trusting
//! the CA the emulator writes out lets them reach it anyway, with real TLS verification.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA certificate (to trust) and an acceptor serving a certificate it signed.
pub(crate) struct Tls {
    /// The CA certificate, PEM.
    pub(crate) ca_pem: String,
    /// Accepts TLS connections with the server certificate.
    pub(crate) acceptor: TlsAcceptor,
}

impl Tls {
    /// Makes a CA and a server certificate for `localhost`, `127.0.0.1`, `::1` and `ip`.
    ///
    /// # Errors
    ///
    /// A description of what failed; nothing here depends on input, so a failure means the
    /// crypto library could not make or use a key.
    pub(crate) fn generate(ip: IpAddr) -> Result<Self, String> {
        let describe = |error: rcgen::Error| error.to_string();

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(describe)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kinde-emulator local CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().map_err(describe)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(describe)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if !names.contains(&ip.to_string()) {
            names.push(ip.to_string());
        }
        let mut server_params = CertificateParams::new(names).map_err(describe)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().map_err(describe)?;
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(describe)?;

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|error| error.to_string())?
                .with_no_client_auth()
                .with_single_cert(vec![server_cert.der().clone()], key)
                .map_err(|error| error.to_string())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        Ok(Self {
            ca_pem: ca_cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}
