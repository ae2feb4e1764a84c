//! Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, OSS/COS in S3 mode), so that several
//! stateless instances share one set of files.
//!
//! The client is the Apache `object_store` crate. Credentials and region come from the usual `AWS_*`
//! environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`); the
//! endpoint of a non-AWS server is given explicitly and addressed path-style. An acknowledged `PUT` is durable
//! on the server, which is what lets the upload's row commit after it (see `crate::write_atomic` for the local
//! equivalent).

use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::blobs::{BlobStore, BoxFuture, OpenError, check_key};

/// A bucket, optionally under a key prefix.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
}

impl S3Blobs {
    /// The store for `bucket_and_prefix` (`BUCKET` or `BUCKET/PREFIX`, the part of `s3://…` after the scheme).
    /// `endpoint` (`http://host:port`) selects an S3-compatible server; without it, AWS S3 itself.
    pub fn new(bucket_and_prefix: &str, endpoint: Option<&str>) -> Result<S3Blobs, OpenError> {
        S3Blobs::with_keys(bucket_and_prefix, endpoint, None)
    }

    /// As [`S3Blobs::new`], with the access key given here rather than in the environment.
    pub fn with_keys(
        bucket_and_prefix: &str,
        endpoint: Option<&str>,
        keys: Option<(&str, &str)>,
    ) -> Result<S3Blobs, OpenError> {
        let (bucket, prefix) = match bucket_and_prefix.split_once('/') {
            Some((b, p)) => (b, p.trim_end_matches('/')),
            None => (bucket_and_prefix, ""),
        };
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok || (!prefix.is_empty() && check_key(prefix).is_err()) {
            return Err(OpenError::BadSpec(format!("s3://{bucket_and_prefix}")));
        }
        // reqwest is built without a bundled TLS provider; ring is the one this binary uses for https. A second
        // call finds it installed already, which is fine.
        crate::install_tls_provider();
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            b = b.with_region("us-east-1");
        }
        if let Some((id, secret)) = keys {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        } else if endpoint.is_some() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            // Without keys the client would ask a cloud metadata service for a role, which an S3-compatible
            // server's site does not have: say what is missing instead of timing out.
            return Err(OpenError::S3(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for --s3-endpoint".into(),
            ));
        }
        if let Some(ep) = endpoint {
            b = b
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = b.build().map_err(|e| OpenError::S3(e.to_string()))?;
        Ok(S3Blobs {
            store: Arc::new(store),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    fn path(&self, key: &str) -> std::io::Result<Path> {
        check_key(key)?;
        Ok(if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        })
    }
}

impl std::fmt::Display for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// Maps the client's errors onto `io::Error` kinds callers already handle (a missing blob is `NotFound`).
fn io(e: object_store::Error) -> std::io::Error {
    match e {
        object_store::Error::NotFound { .. } => {
            std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string())
        }
        other => std::io::Error::other(other.to_string()),
    }
}

impl BlobStore for S3Blobs {
    fn put<'a>(&'a self, key: &'a str, data: Vec<u8>) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            self.store
                .put(&path, PutPayload::from(data))
                .await
                .map(|_| ())
                .map_err(io)
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<Vec<u8>>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let got = self.store.get(&path).await.map_err(io)?;
            Ok(got.bytes().await.map_err(io)?.to_vec())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            match self.store.delete(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other.map_err(io),
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, std::io::Result<Vec<String>>> {
        Box::pin(async move {
            let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
            let metas: Vec<_> = self
                .store
                .list(prefix.as_ref())
                .try_collect()
                .await
                .map_err(io)?;
            let cut = if self.prefix.is_empty() {
                0
            } else {
                self.prefix.len() + 1
            };
            let mut keys: Vec<String> = metas
                .into_iter()
                .filter_map(|m| m.location.as_ref().get(cut..).map(str::to_owned))
                .collect();
            keys.sort();
            Ok(keys)
        })
    }
}

/// A real S3-protocol server for tests: moto's `moto_server` (PyPI `moto[server]`, installed by
/// `scripts/test.sh`) on a free loopback port, killed on drop.
#[cfg(feature = "testing")]
pub mod testing {
    use std::io::{Read, Write};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// The access key the test server accepts (moto accepts any; these are what the tests pass).
    pub const KEYS: (&str, &str) = ("sealdesk-test", "sealdesk-test-secret");

    /// A running `moto_server`.
    pub struct S3Server {
        child: Child,
        /// `http://127.0.0.1:PORT`.
        pub endpoint: String,
    }

    impl Drop for S3Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl S3Server {
        /// Starts the server. Where `moto_server` is not installed: under `CI=true` this panics (the S3 path
        /// must be tested there); elsewhere it says so and returns `None`.
        pub fn start() -> Option<S3Server> {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap_or_else(|e| panic!("no free port: {e}"));
            let spawned = Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(c) => c,
                Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                    panic!("moto_server (pip install 'moto[server]') is needed under CI: {e}")
                }
                Err(e) => {
                    eprintln!(
                        "SKIPPED: moto_server not available ({e}); scripts/test.sh installs it"
                    );
                    return None;
                }
            };
            let server = S3Server {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "moto_server did not start");
                std::thread::sleep(Duration::from_millis(100));
            }
            Some(server)
        }

        /// Creates a bucket (moto takes an unsigned `PUT /BUCKET`).
        pub fn create_bucket(&self, name: &str) {
            let addr = self.endpoint.trim_start_matches("http://");
            let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
            write!(
                s,
                "PUT /{name} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let mut reply = String::new();
            let _ = s.read_to_string(&mut reply);
            assert!(reply.starts_with("HTTP/1.1 200"), "create bucket: {reply}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_and_prefix_are_checked() {
        let ok = S3Blobs::with_keys(
            "sealdesk-prod/tenant-1/",
            Some("http://127.0.0.1:9"),
            Some(("k", "s")),
        )
        .unwrap();
        assert_eq!(ok.to_string(), "s3://sealdesk-prod/tenant-1");
        assert_eq!(
            ok.path("uploads/1/2").unwrap().as_ref(),
            "tenant-1/uploads/1/2"
        );
        assert!(ok.path("../x").is_err());
        for bad in ["", "ab", "Upper", "b/../x", "b/中文", "bucket_x"] {
            assert!(
                matches!(S3Blobs::new(bad, None), Err(OpenError::BadSpec(_))),
                "{bad}"
            );
        }
    }
}
