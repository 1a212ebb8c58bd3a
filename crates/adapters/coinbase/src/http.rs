//! The HTTP side: where the venue is, the CDP key from the environment, a JWT per request,
//! and the shared transport ([`systrade_broker::http`]) with Coinbase's rules — 30 private
//! requests a second, its refusals ([`crate::parse::refusal`]).
//!
//! `COINBASE_API_KEY` (the key name, `organizations/{org}/apiKeys/{id}`) and
//! `COINBASE_API_SECRET` (its EC private key) are registered with
//! [`systrade_core::redact`] the moment they are read.

use std::time::Duration;

use systrade_broker::BrokerError;
use systrade_broker::http::{Client, Method, Request, VenueRules, unix_now};
use systrade_broker::venue::{Refusal, env_value};
use systrade_core::contracts::ClientOrderId;

use crate::jwt::Signer;
use crate::parse;

/// The real host (Coinbase has no paper trading: every order moves money).
pub const HOST: &str = "https://api.coinbase.com";
/// Every private path starts here.
pub const PREFIX: &str = "/api/v3/brokerage";

/// Private REST allows 30 requests a second per user; the bucket stays under it.
const REQUESTS_PER_SECOND: u32 = 25;

/// A variable or key the adapter needs is missing or unusable (exit 2 in the CLI).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SetupError {
    #[error(
        "{0} is not set: Coinbase needs COINBASE_API_KEY (the key name) and COINBASE_API_SECRET (its EC private key, PEM) in the environment"
    )]
    Missing(&'static str),
    #[error(transparent)]
    Key(#[from] crate::jwt::JwtError),
}

/// Where the venue is and the key that signs for us.
pub struct Endpoint {
    pub base_url: String,
    signer: Signer,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// From `COINBASE_API_KEY`, `COINBASE_API_SECRET` and `SYSTRADE_COINBASE_BASE_URL`
    /// (default the real host).
    pub fn from_env() -> Result<Endpoint, SetupError> {
        let var = |name: &'static str| env_value(name).ok_or(SetupError::Missing(name));
        let key = var("COINBASE_API_KEY")?;
        let secret = var("COINBASE_API_SECRET")?;
        let base = env_value("SYSTRADE_COINBASE_BASE_URL").unwrap_or_else(|| HOST.to_string());
        Endpoint::new(&base, &key, &secret)
    }

    pub fn new(base_url: &str, key_name: &str, pem: &str) -> Result<Endpoint, SetupError> {
        systrade_core::redact::register(pem);
        systrade_core::redact::register(&pem.replace("\\n", "\n"));
        let mut base = base_url.trim().trim_end_matches('/').to_string();
        if let Some(b) = base.strip_suffix(PREFIX) {
            base = b.to_string();
        }
        Ok(Endpoint {
            base_url: base,
            signer: Signer::new(key_name, pem)?,
        })
    }
}

/// The client: a fresh JWT for every request, for exactly its method, host and path.
pub struct Http {
    signer: Signer,
    client: Client,
}

impl Http {
    pub fn new(endpoint: Endpoint) -> Http {
        let rules = VenueRules {
            name: "coinbase",
            base_var: "SYSTRADE_COINBASE_BASE_URL",
            reset_header: "x-ratelimit-reset",
            refusal: parse::refusal,
        };
        let client = Client::new(
            &endpoint.base_url,
            rules,
            REQUESTS_PER_SECOND,
            Duration::from_secs(1),
        );
        Http {
            signer: endpoint.signer,
            client,
        }
    }

    pub fn calls(&self) -> u64 {
        self.client.calls()
    }

    /// `method PREFIX+path?query` with a JSON `body`; the body of a 2xx answer, else the
    /// venue's refusal of the call about `order`.
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        order: Option<&ClientOrderId>,
    ) -> Result<String, Refusal> {
        let full = format!("{PREFIX}{path}");
        let authority = self.client.authority().to_string();
        let signer = &self.signer;
        let auth = |m: Method, p: &str| {
            let token = signer
                .token(m.as_str(), &format!("{authority}{p}"), unix_now())
                .map_err(|e| BrokerError::Credentials(e.to_string()))?;
            Ok(vec![("Authorization", format!("Bearer {token}"))])
        };
        self.client.call(
            &Request {
                method,
                path: &full,
                query,
                body,
                order,
            },
            &auth,
        )
    }
}
