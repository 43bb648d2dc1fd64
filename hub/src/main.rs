#[tokio::main]
async fn main() -> std::process::ExitCode {
    payhub::cli::main().await
}
