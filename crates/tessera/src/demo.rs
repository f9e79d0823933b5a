//! `tessera demo`: the whole dance in one process — the authorization
//! server, the photo-storage API and the photo printer — with a demo user
//! and both clients registered, on loopback only.
//!
//! Each part is started through the same code as its own subcommand
//! (`serve`, `photo-api`, `photo-printer`), configured from generated settings,
//! so the demo shows the real thing.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use figment::Figment;
use figment::providers::Serialized;
use serde_json::json;
use tessera_core::secrets::new_opaque_token;
use tessera_photo_printer::PrinterConfig;
use tessera_runtime::SystemRandomness;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::FileConfig;
use crate::photo_api::ResourceConfig;

/// How long in-flight requests may take to finish after Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

pub const DEMO_USER: &str = "alice";
pub const DEMO_PASSWORD: &str = "alice-demo-password";

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the databases in this directory (created if missing, reused if
    /// present) instead of a fresh temporary one deleted at exit.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The photo printer's port (the page to open).
    #[arg(long, default_value_t = 9000)]
    printer_port: u16,
    /// The authorization server's port.
    #[arg(long = "as-port", default_value_t = 9001)]
    as_port: u16,
    /// The photo-storage API's port.
    #[arg(long, default_value_t = 9002)]
    api_port: u16,
    /// A tracing filter for the three servers' logs.
    #[arg(long, default_value = "warn")]
    log: String,
    /// Refused (see above). Declared here, hidden, so that the global
    /// `--config` is not listed in the demo's help.
    #[arg(long, short, hide = true)]
    config: Option<PathBuf>,
}

/// Binds `port` on loopback, saying clearly which part needed it.
async fn bind(port: u16, part: &str, flag: &str) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "port {port} (the {part}) is already in use; stop what is using it or choose another port with {flag}"
        ),
        Err(e) => Err(e).with_context(|| format!("cannot listen on 127.0.0.1:{port} (the {part})")),
    }
}

fn secret() -> anyhow::Result<String> {
    Ok(new_opaque_token(&SystemRandomness)?.expose().to_owned())
}

/// Runs the demo. `config_on_command_line`: whether `--config` was given
/// (refused) rather than found in TESSERA_CONFIG (ignored, with a note).
pub async fn run(args: DemoArgs, config_on_command_line: bool) -> anyhow::Result<()> {
    if let Some(config) = &args.config {
        if config_on_command_line {
            bail!(
                "`tessera demo` takes no --config: it makes the three servers' settings itself so that they fit together; choose ports and the data directory with its options (tessera demo --help), or run serve, photo-api and photo-printer with configuration files"
            );
        }
        eprintln!(
            "note: the demo ignores TESSERA_CONFIG ({}): it makes its own settings",
            config.display()
        );
    }
    crate::logging::init_logging(&args.log);
    // Every port first: a taken one stops the demo before anything starts.
    let as_listener = bind(args.as_port, "authorization server", "--as-port").await?;
    let api_listener = bind(args.api_port, "photo-storage API", "--api-port").await?;
    let printer_listener = bind(args.printer_port, "photo printer", "--printer-port").await?;

    let (_temporary, data_dir) = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
            (None, dir.clone())
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("tessera-demo-")
                .tempdir()
                .context("cannot create a temporary data directory")?;
            let path = t.path().to_owned();
            (Some(t), path)
        }
    };
    let issuer = format!("http://localhost:{}", args.as_port);
    let api = format!("http://localhost:{}", args.api_port);
    let printer_url = format!("http://localhost:{}", args.printer_port);
    let printer_secret = secret()?;
    let api_secret = secret()?;
    let db = |name: &str| format!("sqlite://{}", data_dir.join(name).display());
    let key_encryption_key = demo_key_encryption_key(&data_dir)?;

    let as_config: FileConfig = Figment::from(Serialized::defaults(json!({
        "issuer": issuer,
        "listen": format!("127.0.0.1:{}", args.as_port),
        "database": db("tessera.db"),
        "default_audience": api,
        "access_token_ttl_secs": 300,
        "key_encryption_key": key_encryption_key,
        "log": args.log,
        "resources": [{ "identifier": api, "name": "Photo storage", "scopes": ["photos:read", "photos:write"] }],
        "scope_descriptions": {
            "photos:read": "See the photos in your photo storage",
            "photos:write": "Add photos to your photo storage and delete them",
        },
        "clients": [
            { "client_id": "photo-api", "name": "Photo storage API", "client_secret": api_secret,
              "grant_types": ["client_credentials"], "introspect": true, "resource": api },
            { "client_id": "photo-printer", "name": "Photo Printer", "client_secret": printer_secret,
              "redirect_uris": [format!("{printer_url}/callback")],
              "scopes": ["photos:read", "photos:write"],
              "grant_types": ["authorization_code", "refresh_token"] },
            // The native client (`tessera photos`): public, any loopback
            // port (RFC 8252 §7.3).
            { "client_id": "photo-cli", "name": "Photo CLI",
              "redirect_uris": ["http://127.0.0.1/callback"],
              "scopes": ["photos:read", "photos:write"],
              "grant_types": ["authorization_code", "refresh_token"] },
        ],
        "users": [{ "username": DEMO_USER, "password": DEMO_PASSWORD,
                    "claims": { "name": "Alice Liddell", "preferred_username": DEMO_USER,
                                "email": "alice@example.com", "email_verified": true } }],
    })))
    .extract()
    .context("demo configuration of the authorization server")?;
    let api_config: ResourceConfig = Figment::from(Serialized::defaults(json!({
        "listen": format!("127.0.0.1:{}", args.api_port),
        "identifier": api,
        "issuer": issuer,
        "database": db("photos.db"),
        "validation": "jwt",
        "log": args.log,
    })))
    .extract()
    .context("demo configuration of the photo API")?;
    let printer_config = PrinterConfig {
        listen: format!("127.0.0.1:{}", args.printer_port),
        issuer: issuer.clone(),
        client_id: "photo-printer".into(),
        client_secret: tessera_client::Secret::new(printer_secret),
        redirect_uri: format!("{printer_url}/callback"),
        photo_api: api.clone(),
        scopes: ["openid", "profile", "photos:read", "photos:write"]
            .map(String::from)
            .to_vec(),
        log: args.log.clone(),
        header_read_timeout_secs: None,
        request_body_timeout_secs: None,
        max_connections: None,
        tls_certificate_file: None,
        tls_key_file: None,
        tls_reload_interval_secs: None,
    };

    let (stop, stopped) = watch::channel(false);
    let stop = std::sync::Arc::new(stop);
    let on_stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // When one part ends (failed, or stopped), the others stop too.
    let part =
        |work: std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let result = work.await;
                stop.send_replace(true);
                result
            })
        };
    let authorization_server = part(Box::pin(crate::serve::serve_authorization_server(
        as_config,
        tessera_store::Migrations::Apply,
        as_listener,
        on_stop(stopped.clone()),
    )));
    // Wait for the AS, unless it fails first (then its error is the one
    // to report, not a timeout).
    let mut authorization_server = authorization_server;
    let health = format!("http://127.0.0.1:{}/healthz", args.as_port);
    tokio::select! {
        ready = wait_until_ready(&health) => ready?,
        ended = &mut authorization_server => {
            ended.context("the authorization server crashed")??;
            bail!("the authorization server stopped before it was ready");
        }
    }
    let photo_api = part(Box::pin(crate::photo_api::serve_on(
        api_listener,
        api_config,
        on_stop(stopped.clone()),
    )));
    let printer = part(Box::pin(crate::photo_printer::serve_on(
        printer_listener,
        printer_config,
        on_stop(stopped.clone()),
    )));

    println!("Tessera demo: the OAuth dance on your machine (Ctrl-C stops it)\n");
    println!("  open the photo printer   {printer_url}/");
    println!("  watch the dance live     {printer_url}/dance");
    println!("  authorization server     {issuer}/");
    println!("  photo-storage API        {api}/");
    let photos_flags = photos_cli_flags(&issuer, &api, &args);
    println!("  the native client        tessera photos login{photos_flags}");
    println!("                           (or: cargo run --release -- photos login{photos_flags})");
    println!("\n  log in as {DEMO_USER} / {DEMO_PASSWORD}");
    match &args.data_dir {
        Some(_) => println!("  data kept in {}", data_dir.display()),
        None => println!("  data in {} (deleted at exit)", data_dir.display()),
    }
    println!(
        "\nUse “localhost”, not 127.0.0.1: the redirect URI and the cookies are registered for it."
    );

    let signal_stop = stop.clone();
    tokio::spawn(async move {
        crate::signals::shutdown_signal().await;
        signal_stop.send_replace(true);
        // A second Ctrl-C does not wait for in-flight requests.
        crate::signals::shutdown_signal().await;
        eprintln!("stopping at once");
        std::process::exit(130);
    });
    let mut stopped_at = stopped.clone();
    let parts = async { tokio::join!(authorization_server, photo_api, printer) };
    tokio::pin!(parts);
    // Once stopping, in-flight requests get a bounded time to finish.
    let (a, b, c) = tokio::select! {
        done = &mut parts => done,
        _ = async {
            let _ = stopped_at.wait_for(|s| *s).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => bail!("the demo did not stop within {} s", SHUTDOWN_GRACE.as_secs()),
    };
    for (part, result) in [
        ("authorization server", a),
        ("photo API", b),
        ("photo printer", c),
    ] {
        result
            .with_context(|| format!("the {part} crashed"))?
            .with_context(|| format!("the {part} failed"))?;
    }
    println!("demo stopped");
    Ok(())
}

/// The key that seals the demo's signing keys, kept beside its databases
/// (readable by the owner only) so a reused `--data-dir` can open them.
fn demo_key_encryption_key(dir: &std::path::Path) -> anyhow::Result<String> {
    use base64::Engine as _;
    let path = dir.join("key-encryption-key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    SystemRandomness.fill(&mut bytes)?;
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, key.as_bytes())?;
    Ok(key)
}

/// Polls the AS until it answers, so the other parts find it up.
async fn wait_until_ready(url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the authorization server did not start within 10 s")
}

/// The `tessera photos` flags that point the native client at this demo:
/// none on the default ports, which are its defaults.
fn photos_cli_flags(issuer: &str, api: &str, args: &DemoArgs) -> String {
    let mut flags = String::new();
    if args.as_port != 9001 {
        flags.push_str(&format!(" --issuer {issuer}"));
    }
    if args.api_port != 9002 {
        flags.push_str(&format!(" --api {api}"));
    }
    flags
}
