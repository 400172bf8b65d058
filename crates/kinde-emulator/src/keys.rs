//! The issuer's RS256 signing key: generated once per process, published as a JWKS.
//!
//! Generating an RSA-2048 key takes long enough to matter in a test suite that starts many
//! emulators, so every emulator in a process shares one key. A token from one emulator therefore
//! verifies against the JWKS of another in the same process, but not its issuer or audience.

use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Serialize;
use serde_json::{Value, json};

/// The process-wide signing key.
pub(crate) fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(SigningKey::generate)
}

/// An RSA key pair with its public parts in JWK form.
pub(crate) struct SigningKey {
    key_pair: KeyPair,
    kid: String,
    modulus: String,
    exponent: String,
    decoding: DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key.
    ///
    /// # Panics
    ///
    /// If the platform's crypto library cannot generate a key, which leaves nothing to run.
    fn generate() -> Self {
        let key_pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 key generation");
        let public = key_pair.public_key();
        let modulus_bytes = public.modulus().big_endian_without_leading_zero().to_vec();
        let exponent_bytes = public.exponent().big_endian_without_leading_zero().to_vec();

        let fingerprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &modulus_bytes);
        let kid = fingerprint.as_ref()[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        let modulus = URL_SAFE_NO_PAD.encode(&modulus_bytes);
        let exponent = URL_SAFE_NO_PAD.encode(&exponent_bytes);
        let decoding = DecodingKey::from_rsa_components(&modulus, &exponent)
            .expect("the key's own components are valid");

        Self {
            key_pair,
            kid,
            modulus,
            exponent,
            decoding,
        }
    }

    /// The key id, a colon-separated 16-byte fingerprint as Kinde formats it.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The key that verifies tokens signed by this one.
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWK Set document.
    pub(crate) fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": self.kid,
                "n": self.modulus,
                "e": self.exponent,
            }]
        })
    }

    /// Signs `claims` as a compact RS256 JWT with this key's `kid`.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{claims}");

        let mut signature = vec![0; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("the signature buffer has the modulus length");

        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}
