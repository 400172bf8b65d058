//! TLS and mutual TLS: a caller authenticated by its client certificate's subject.

mod common;

use std::path::PathBuf;

use common::{Harness, pb};
use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
use kinde_gateway::caller::Caller;
use kinde_gateway::config::TlsConfig;
use kinde_gateway::server::ServeOptions;
use kinde_gateway::{AuditLog, Gateway, Profile};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tower_m2m::kinde::KindeCredentials;
use tower_m2m::stack::Upstream;

/// A CA, a server certificate for localhost and a client certificate for `client_name`.
struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key: String,
    client_pem: String,
    client_key: String,
}

fn pki(client_name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "gateway test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();

    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, client_name);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().unwrap();
    let client_cert = client.signed_by(&client_key, &issuer).unwrap();

    Pki {
        ca_pem: ca.pem(),
        server_pem: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_pem: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

/// Files written for the server's TLS settings, removed when dropped (also when a test fails).
#[derive(Default)]
struct TempFiles(Vec<PathBuf>);

impl TempFiles {
    fn write(&mut self, name: &str, contents: &str) -> PathBuf {
        let path = common::process::temp_path(&format!("tls-{name}"));
        std::fs::write(&path, contents).unwrap();
        self.0.push(path.clone());
        path
    }
}

impl Drop for TempFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[tokio::test]
async fn a_client_certificate_authenticates_its_caller_and_no_certificate_does_not() {
    let pki = pki("billing-service");
    let emulator = Emulator::builder().start().await.unwrap();
    let credentials = KindeCredentials::new()
        .domain(emulator.base_url())
        .client_id(DEMO_CLIENT_ID)
        .client_secret(DEMO_CLIENT_SECRET)
        .build()
        .unwrap();
    let profile = Profile::kinde(emulator.base_url(), credentials, Upstream::new("k")).unwrap();
    let audit = AuditLog::memory();
    let gateway = Gateway::builder()
        .profile("demo", profile)
        .caller(
            Caller::new("billing", "demo")
                .certificate_subject("billing-service")
                .allow("kinde.management.v1.UsersService/*"),
        )
        .audit_log(audit.clone())
        .build()
        .unwrap();
    let mut files = TempFiles::default();
    let options = ServeOptions {
        tls: Some(TlsConfig {
            cert_file: files.write("server.pem", &pki.server_pem),
            key_file: files.write("server.key", &pki.server_key),
            client_ca_file: Some(files.write("ca.pem", &pki.ca_pem)),
        }),
        ..ServeOptions::default()
    };
    let harness = Harness::serve_with(emulator, gateway, audit, options).await;
    let endpoint =
        || Channel::from_shared(format!("https://localhost:{}", harness.address.port())).unwrap();
    let trust = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");

    let with_certificate = endpoint()
        .tls_config(
            trust
                .clone()
                .identity(Identity::from_pem(&pki.client_pem, &pki.client_key)),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut users = pb::users_service_client::UsersServiceClient::new(with_certificate);
    users
        .get_users(tonic::Request::new(pb::GetUsersRequest::default()))
        .await
        .unwrap();

    let without = endpoint()
        .tls_config(trust)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut anonymous = pb::users_service_client::UsersServiceClient::new(without);
    let refused = anonymous
        .get_users(tonic::Request::new(pb::GetUsersRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    let callers: Vec<_> = harness
        .audit_lines()
        .iter()
        .map(|line| line["caller"].clone())
        .collect();
    assert_eq!(
        callers,
        [serde_json::json!("billing"), serde_json::Value::Null]
    );
    harness.stop().await;
}
