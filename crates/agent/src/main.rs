//! `sealdesk-agent`: the SealDesk UKey agent (证书助手) on 127.0.0.1.
//!
//! ```text
//! sealdesk-agent [--listen 127.0.0.1:17820] --allow-origin https://seal.example.cn \
//!     (--soft-token DIR | --pkcs11-module PATH) [--maker-cert maker.pem]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgGroup, Parser};
use sealdesk_agent::pkcs11::Pkcs11Backend;
use sealdesk_agent::server::{self, Config};
use sealdesk_agent::soft::SoftBackend;
use sealdesk_agent::{Agent, Backend, DEFAULT_PORT};

/// The SealDesk UKey agent: lets the platform's pages read the certificate UKey, check its PIN, sign
/// challenges and write seals, from this computer only.
#[derive(Debug, Parser)]
#[command(name = "sealdesk-agent", version)]
#[command(group(ArgGroup::new("token").required(true).args(["soft_token", "pkcs11_module"])))]
struct Args {
    /// Address to listen on; loopback only.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)))]
    listen: SocketAddr,
    /// A platform origin allowed to use the agent (scheme://host[:port]); repeatable.
    #[arg(long = "allow-origin", value_name = "URL", required = true, num_args = 1..)]
    allow_origin: Vec<String>,
    /// Serve the soft token(s) in this directory.
    #[arg(long, value_name = "DIR")]
    soft_token: Option<PathBuf>,
    /// Serve the tokens of this PKCS#11 module (.so / .dylib / .dll).
    #[arg(long, value_name = "PATH")]
    pkcs11_module: Option<PathBuf>,
    /// The platform's seal-maker certificate (PEM or DER); only seals it signed are written. Repeatable.
    #[arg(long = "maker-cert", value_name = "FILE")]
    maker_cert: Vec<PathBuf>,
}

fn load_cert(path: &PathBuf) -> Result<sealdesk_pki::Cert, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN") => sealdesk_pki::Cert::from_pem(text),
        _ => sealdesk_pki::Cert::from_der(&bytes),
    }
    .map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealdesk-agent: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: the agent listens on the loopback address only (127.0.0.1 or ::1)",
            args.listen
        ));
    }
    let origins = args
        .allow_origin
        .iter()
        .map(|o| server::parse_origin(o))
        .collect::<Result<Vec<_>, _>>()?;
    let makers = args
        .maker_cert
        .iter()
        .map(load_cert)
        .collect::<Result<Vec<_>, _>>()?;
    let backend: Arc<dyn Backend> = match (&args.soft_token, &args.pkcs11_module) {
        (Some(dir), _) => Arc::new(SoftBackend::new(dir)),
        (None, Some(module)) => Arc::new(Pkcs11Backend::open(module).map_err(|e| e.to_string())?),
        (None, None) => return Err("--soft-token or --pkcs11-module is required".into()),
    };
    let agent = Arc::new(Agent::new(backend, makers));
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        eprintln!(
            "sealdesk-agent {} listening on http://{}:{port} for {} ({})",
            env!("CARGO_PKG_VERSION"),
            args.listen.ip(),
            origins.join(", "),
            agent.describe()
        );
        if !agent.can_write() {
            eprintln!("sealdesk-agent: no --maker-cert given: seals cannot be written");
        }
        let config = Config { origins, port };
        server::serve(listener, agent, config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
    })
}
