//! `sealdesk seal …`: inspect, verify and make seal files from the command line.

/// The `sealdesk seal` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SealCommand {
    /// Show what a seal, signature or OFD file holds.
    Inspect {
        /// The file to read.
        file: std::path::PathBuf,
    },
}

/// Runs one subcommand and returns the process exit code.
pub fn run(cmd: SealCommand) -> i32 {
    match cmd {
        SealCommand::Inspect { file } => {
            eprintln!("{}: seal inspection is not built yet (issue 3)", file.display());
            2
        }
    }
}
