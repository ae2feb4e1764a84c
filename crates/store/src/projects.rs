//! Projects' settings (migration 0026): contact, registered seal sizes and the 授权转自动开关.

use sealdesk_domain::{SealKind, SealSize};

use crate::{Result, Store, StoreError};

/// `official_seal:40x40,legal_representative:18x18` → sizes; an entry that does not read (written by a newer
/// release) is skipped, so the kind keeps its usual size.
pub(crate) fn parse_sizes(text: &str) -> Vec<SealSize> {
    text.split(',')
        .filter_map(|e| {
            let (kind, size) = e.split_once(':')?;
            SealSize::parse(SealKind::from_code(kind.trim())?, size).ok()
        })
        .collect()
}

fn sizes_text(sizes: &[SealSize]) -> String {
    sizes
        .iter()
        .map(SealSize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Store {
    /// Sets project `id`'s contact, registered seal sizes (only those that differ from the usual ones are kept)
    /// and 授权转自动开关.
    pub async fn set_project_settings(
        &self,
        id: i64,
        contact: &str,
        sizes: &[SealSize],
        auto_approve: bool,
    ) -> Result<()> {
        let kept: Vec<SealSize> = sizes
            .iter()
            .filter(|s| (s.width_mm, s.height_mm) != s.kind.usual_size_mm())
            .copied()
            .collect();
        let done = sqlx::query(
            "UPDATE projects SET contact = $2, seal_sizes = $3, auto_approve = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(contact)
        .bind(sizes_text(&kept))
        .bind(i16::from(auto_approve))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_survive_their_text_and_unknown_entries_are_skipped() {
        let sizes = vec![
            SealSize::parse(SealKind::OfficialSeal, "40").unwrap(),
            SealSize::parse(SealKind::RegisteredConstructor, "45x30").unwrap(),
        ];
        let text = sizes_text(&sizes);
        assert_eq!(text, "official_seal:40x40,registered_constructor:45x30");
        assert_eq!(parse_sizes(&text), sizes);
        assert_eq!(parse_sizes("hologram:40x40,official_seal:abc,"), Vec::new());
        assert_eq!(parse_sizes(""), Vec::new());
    }
}
