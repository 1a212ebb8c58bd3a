//! The CDP API key's JWT, signed ES256 per request (`broker-apis.md` §2.1): header
//! `{alg: ES256, kid: <key name>, nonce: <random hex>, typ: JWT}`, claims `{sub: <key name>,
//! iss: "cdp", nbf: now, exp: now + 120, uri: "<METHOD> <host><path>"}`.
//!
//! The private key is the PEM Coinbase hands out — SEC1 (`BEGIN EC PRIVATE KEY`) or PKCS#8
//! (`BEGIN PRIVATE KEY`) — as it sits in an environment variable, literal `\n` included.
//! Signing and verifying use `ring` (already in the build through TLS).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde_json::{Value, json};

/// Why a key or a token is not usable. Never carries the key itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error(
        "COINBASE_API_SECRET is not a PEM EC private key (expected BEGIN EC PRIVATE KEY or BEGIN PRIVATE KEY, P-256): {0}"
    )]
    Key(&'static str),
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token {0}")]
    Claims(String),
}

/// The DER of a PEM block, with `\n` written out as two characters accepted.
fn pem_der(pem: &str) -> Result<(bool, Vec<u8>), JwtError> {
    let text = pem.replace("\\n", "\n");
    let sec1 = text.contains("BEGIN EC PRIVATE KEY");
    if !sec1 && !text.contains("BEGIN PRIVATE KEY") {
        return Err(JwtError::Key("no PEM header"));
    }
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| JwtError::Key("the PEM body is not base64"))?;
    Ok((sec1, der))
}

/// A DER length.
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// A SEC1 `ECPrivateKey` wrapped as PKCS#8 `PrivateKeyInfo` for P-256 (RFC 5915 in RFC
/// 5208), the form `ring` reads.
fn sec1_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    // id-ecPublicKey, prime256v1
    const ALG: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let mut content = vec![0x02, 0x01, 0x00];
    content.extend_from_slice(&ALG);
    content.extend(der(0x04, sec1));
    der(0x30, &content)
}

/// A signing key: the API key's name and its P-256 private key.
pub struct Signer {
    key_name: String,
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_name", &self.key_name)
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(key_name: &str, pem: &str) -> Result<Signer, JwtError> {
        let (sec1, der) = pem_der(pem)?;
        let pkcs8 = if sec1 { sec1_to_pkcs8(&der) } else { der };
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| JwtError::Key("not a P-256 key ring can read"))?;
        Ok(Signer {
            key_name: key_name.to_string(),
            pair,
            rng,
        })
    }

    /// The uncompressed public point (what a venue verifies with).
    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The token for `method host+path` at UNIX second `now`.
    pub fn token(&self, method: &str, host_path: &str, now: u64) -> Result<String, JwtError> {
        let mut nonce = [0u8; 16];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| JwtError::Key("no randomness for the nonce"))?;
        let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let header = json!({"alg": "ES256", "kid": self.key_name, "nonce": nonce, "typ": "JWT"});
        let claims = json!({"sub": self.key_name, "iss": "cdp", "nbf": now, "exp": now + 120,
                            "uri": format!("{method} {host_path}")});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| JwtError::Key("signing failed"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        ))
    }
}

/// What a venue checks of a token: signed by `public_key`, issued for `key_name`, for the
/// request `uri`, not expired at `now` (and not from the future beyond a few seconds).
pub fn verify(
    token: &str,
    public_key: &[u8],
    key_name: &str,
    uri: &str,
    now: u64,
) -> Result<(), JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three parts"));
    };
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::Malformed("signature is not base64url"))?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| JwtError::Signature)?;
    let read = |p: &str| -> Result<Value, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| JwtError::Malformed("a part is not base64url"))?;
        serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed("a part is not JSON"))
    };
    let (header, claims) = (read(h)?, read(c)?);
    if header["alg"] != "ES256" || header["kid"] != key_name || header["nonce"].as_str().is_none() {
        return Err(JwtError::Claims(
            "header is not ES256 for this key with a nonce".into(),
        ));
    }
    if claims["sub"] != key_name || claims["iss"] != "cdp" {
        return Err(JwtError::Claims("is not issued by cdp for this key".into()));
    }
    if claims["uri"] != uri {
        return Err(JwtError::Claims(format!(
            "is for {}, not {uri}",
            claims["uri"]
        )));
    }
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let nbf = claims["nbf"].as_u64().unwrap_or(u64::MAX);
    if now >= exp {
        return Err(JwtError::Claims("has expired".into()));
    }
    if nbf > now + 5 || exp > nbf + 120 {
        return Err(JwtError::Claims(
            "is not valid yet or lives too long".into(),
        ));
    }
    Ok(())
}

/// A fresh P-256 key as PKCS#8 PEM (tests and the local venue's examples).
pub fn generate_pkcs8_pem() -> Result<String, JwtError> {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| JwtError::Key("cannot generate"))?;
    let b64 = STANDARD.encode(doc.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SEC1 P-256 key as OpenSSL writes it (`openssl ecparam -name prime256v1 -genkey`),
    /// with its parameters and public key: a test key, never used anywhere.
    const SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEICKZmLlqLuUSIT+yJsKREG91jIVup27owVuX1uOw4XjCoAoGCCqGSM49
AwEHoUQDQgAEFmRFRfkvmtApUMVCQ5xMNmbh0CRWygMFJAMKe4rwG8yU++3al4sw
2Z2hFaAzkioPVni3I1ifTNiAoxSP29rTDQ==
-----END EC PRIVATE KEY-----
";

    #[test]
    fn test_a_token_verifies_for_its_request_only_and_expires() {
        let pem = generate_pkcs8_pem().unwrap();
        let s = Signer::new("organizations/o/apiKeys/k", &pem).unwrap();
        let uri = "GET api.coinbase.com/api/v3/brokerage/accounts";
        let t = s
            .token("GET", "api.coinbase.com/api/v3/brokerage/accounts", 1_000)
            .unwrap();
        let pk = s.public_key();
        assert_eq!(
            verify(&t, &pk, "organizations/o/apiKeys/k", uri, 1_000),
            Ok(())
        );
        assert!(matches!(
            verify(&t, &pk, "organizations/o/apiKeys/k", uri, 1_120),
            Err(JwtError::Claims(m)) if m.contains("expired")
        ));
        assert!(
            verify(
                &t,
                &pk,
                "organizations/o/apiKeys/k",
                "POST api.coinbase.com/x",
                1_000
            )
            .is_err()
        );
        assert!(verify(&t, &pk, "other", uri, 1_000).is_err());
        // Another key's signature does not verify.
        let other =
            Signer::new("organizations/o/apiKeys/k", &generate_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(
            verify(
                &t,
                &other.public_key(),
                "organizations/o/apiKeys/k",
                uri,
                1_000
            ),
            Err(JwtError::Signature)
        );
        // A tampered claim does not verify.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            json!({"sub": "organizations/o/apiKeys/k", "iss": "cdp", "nbf": 1000, "exp": 99999, "uri": uri}).to_string(),
        );
        parts[1] = &forged;
        assert_eq!(
            verify(
                &parts.join("."),
                &pk,
                "organizations/o/apiKeys/k",
                uri,
                1_000
            ),
            Err(JwtError::Signature)
        );
    }

    #[test]
    fn test_sec1_and_escaped_newlines_are_read_and_garbage_is_refused_without_echo() {
        let s = Signer::new("k", SEC1).unwrap();
        let escaped = SEC1.replace('\n', "\\n");
        let t = Signer::new("k", &escaped).unwrap();
        assert_eq!(s.public_key(), t.public_key());
        let tok = s.token("GET", "h/p", 10).unwrap();
        assert_eq!(verify(&tok, &t.public_key(), "k", "GET h/p", 10), Ok(()));
        let e = Signer::new(
            "k",
            "-----BEGIN EC PRIVATE KEY-----\nnot-base64-SECRETSTUFF\n-----END EC PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(!e.to_string().contains("SECRETSTUFF"), "{e}");
        assert!(Signer::new("k", "plain text").is_err());
    }
}
