//! `tessera`: serves the authorization server and manages its clients and
//! users.

mod budgets_config;
mod cli;
mod commands;
mod config;
mod config_error;
mod demo;
mod logging;
mod photo_api;
mod photo_printer;
mod photos;
mod preflight;
mod report;
mod serve;
mod signals;

fn main() -> std::process::ExitCode {
    let cli = cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", report::one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
