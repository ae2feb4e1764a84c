//! `sealdesk artwork …`: extract impressions from scans and render standard seals.

/// The `sealdesk artwork` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ArtworkCommand {
    /// Cut the seal impressions out of a scan.
    Extract {
        /// The scan to read.
        #[arg(long)]
        input: std::path::PathBuf,
    },
}

/// Runs one subcommand and returns the process exit code.
pub fn run(cmd: ArtworkCommand) -> i32 {
    match cmd {
        ArtworkCommand::Extract { input } => {
            eprintln!("{}: extraction is not built yet (issue 4)", input.display());
            2
        }
    }
}
