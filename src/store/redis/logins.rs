//! The OAuth refresh lock and the sealed token chain (see [`crate::auth::oauth::shared_refresh`]).
//! A published token set is stored under a tag derived from the grant secret it replaces and
//! sealed (AES-256-GCM) with a key derived from that same secret: Redis holds no usable token,
//! and only an instance that already held the previous secret can open the successor.

use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use hmac::{Hmac, Mac};
use redis::AsyncCommands as _;
use sha2::Sha256;

use super::Inner;
use super::connection::HOT_PATH_TIMEOUT;
use super::leases::millis;
use super::scripts::{LOGIN_PUBLISH, UNLOCK};
use crate::store::StoreError;
use crate::store::shared::{BoxFuture, SharedLogins};

/// A refresh lock whose holder died frees itself after this long.
const LOCK_TTL: Duration = Duration::from_secs(30);
/// Published sets are kept this long after the last refresh of the login.
const CHAIN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Published sets kept per login.
const CHAIN_KEEP: usize = 64;

fn derive(secret: &str, purpose: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The public name of a grant secret's successor.
fn tag(secret: &str) -> String {
    derive(secret, "llmkp/login-chain/tag").iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn seal(secret: &str, tag: &str, plaintext: &[u8]) -> Option<Vec<u8>> {
    let key = RandomizedNonceKey::new(&AES_256_GCM, &derive(secret, "llmkp/login-chain/key")).ok()?;
    let mut sealed = plaintext.to_vec();
    let nonce = key.seal_in_place_append_tag(Aad::from(tag.as_bytes()), &mut sealed).ok()?;
    let mut out = nonce.as_ref().to_vec();
    out.extend_from_slice(&sealed);
    Some(out)
}

fn open(secret: &str, tag: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let key = RandomizedNonceKey::new(&AES_256_GCM, &derive(secret, "llmkp/login-chain/key")).ok()?;
    let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).ok()?;
    let mut body = sealed[NONCE_LEN..].to_vec();
    let plain = key.open_in_place(nonce, Aad::from(tag.as_bytes()), &mut body).ok()?;
    Some(plain.to_vec())
}

impl Inner {
    async fn timed<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
        match tokio::time::timeout(HOT_PATH_TIMEOUT * 2, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(&e)),
            Err(_) => Err(self.failed(&"no answer in time")),
        }
    }
}

impl SharedLogins for Inner {
    fn available(&self) -> bool {
        self.health.is_up()
    }

    fn try_lock<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let set = redis::cmd("SET")
                .arg(self.keys.login_lock(login))
                .arg(&self.instance)
                .arg("NX")
                .arg("PX")
                .arg(millis(LOCK_TTL))
                .to_owned();
            let answer: Option<String> = self.timed(set.query_async(&mut conn)).await?;
            Ok(answer.is_some())
        })
    }

    fn unlock<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut invocation = UNLOCK.prepare_invoke();
            invocation.key(self.keys.login_lock(login)).arg(&self.instance);
            self.timed(invocation.invoke_async::<i64>(&mut conn)).await.map(|_| ())
        })
    }

    fn successor<'a>(&'a self, login: &'a str, secret: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let tag = tag(secret);
            let mut conn = self.conn.clone();
            let sealed: Option<Vec<u8>> = self.timed(conn.hget(self.keys.login_chain(login), &tag)).await?;
            Ok(sealed.and_then(|sealed| open(secret, &tag, &sealed)))
        })
    }

    fn publish<'a>(
        &'a self,
        login: &'a str,
        replaced: &'a str,
        tokens: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let tag = tag(replaced);
            let sealed = seal(replaced, &tag, &tokens)
                .ok_or_else(|| StoreError::Shared { url: self.shown_url.clone(), message: "cannot seal".into() })?;
            let mut invocation = LOGIN_PUBLISH.prepare_invoke();
            invocation
                .key(self.keys.login_chain(login))
                .key(self.keys.login_order(login))
                .key(self.keys.login_lock(login))
                .arg(&tag)
                .arg(sealed)
                .arg(CHAIN_KEEP)
                .arg(millis(CHAIN_TTL))
                .arg(&self.instance)
                .arg(self.keys.events())
                .arg(format!("{}\nlogin\n{login}", self.instance));
            let mut conn = self.conn.clone();
            self.timed(invocation.invoke_async::<i64>(&mut conn)).await.map(|_| ())
        })
    }

    fn published<'a>(&'a self, login: &'a str, at_most: Duration) -> BoxFuture<'a, ()> {
        let mut published = self.logins_published.subscribe();
        Box::pin(async move {
            let wait = async {
                loop {
                    match published.recv().await {
                        Ok(id) if id == login => return,
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(at_most, wait).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_replaced_secret_opens_its_successor() {
        let tag = tag("refresh-1");
        let sealed = seal("refresh-1", &tag, b"{\"access_token\":\"new\"}").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("new"));
        assert_eq!(open("refresh-1", &tag, &sealed).unwrap(), b"{\"access_token\":\"new\"}");
        assert_eq!(open("refresh-2", &tag, &sealed), None, "another secret cannot open it");
        assert_eq!(open("refresh-1", &super::tag("refresh-2"), &sealed), None, "bound to its tag");
        assert_ne!(super::tag("refresh-1"), super::tag("refresh-2"));
        assert!(!tag.contains("refresh"));
    }
}
