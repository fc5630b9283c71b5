//! Every layer: the built-in ones each owner crate declares (`land`, `planning`, `utilities`,
//! `sectors`, `ioc` — [`declarations`]) and the sectors they are grouped in ([`SECTORS`]). Nothing
//! here names a layer: presentation, access and hooks are in the owners' declarations.

use gis_core::declare::LayerDecl;

/// A sector of the layer tree (the web map groups layers by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sector {
    /// Id layers name (`cadastre`, `water`…).
    pub id: &'static str,
    /// Title in Vietnamese (the one list every app shows).
    pub title_vi: &'static str,
    /// Title in English.
    pub title_en: &'static str,
    /// The style's vector source for its layers: cadastre and planning share `bando` (the base
    /// of every style; the public portal needs nothing else), each other sector has its own.
    pub source: &'static str,
}

const fn sector(
    id: &'static str,
    title_vi: &'static str,
    title_en: &'static str,
    source: &'static str,
) -> Sector {
    Sector {
        id,
        title_vi,
        title_en,
        source,
    }
}

/// Every sector, in the order the apps list them. Layers added by departments
/// (`bando import --new-layer`) name one of these.
pub const SECTORS: &[Sector] = &[
    sector("cadastre", "Địa chính", "Cadastre", "bando"),
    sector("planning", "Quy hoạch", "Planning", "bando"),
    sector("transport", "Giao thông", "Transport", "bando-transport"),
    sector(
        "water",
        "Cấp thoát nước",
        "Water and drainage",
        "bando-water",
    ),
    sector("power", "Điện lực", "Power", "bando-power"),
    sector(
        "environment",
        "Môi trường",
        "Environment",
        "bando-environment",
    ),
    sector("health", "Y tế", "Health", "bando-health"),
    sector("education", "Giáo dục", "Education", "bando-education"),
    sector("tourism", "Du lịch", "Tourism", "bando-tourism"),
    sector(
        "security",
        "An ninh, trật tự",
        "Public security",
        "bando-security",
    ),
    sector(
        "services",
        "Dịch vụ công",
        "Public services",
        "bando-services",
    ),
];

/// The sector with this id.
pub fn sector_by_id(id: &str) -> Option<&'static Sector> {
    SECTORS.iter().find(|s| s.id == id)
}

/// The built-in layers, as their owners declare them without the database (styles that draw
/// code lists kept as data — planning zones by function — fall back to one colour).
pub fn declarations() -> Vec<LayerDecl> {
    declarations_over(planning::plugin::layers())
}

/// The built-in layers with what their owners keep as data read from the database (the
/// planned-function code list of planning zones: colours and legend).
pub async fn declarations_with_data(pool: &sqlx::PgPool) -> Result<Vec<LayerDecl>, sqlx::Error> {
    let functions = planning::functions::load(pool).await?;
    Ok(declarations_over(planning::plugin::layers_with(&functions)))
}

fn declarations_over(planning: Vec<LayerDecl>) -> Vec<LayerDecl> {
    let mut all = land::plugin::layers();
    all.extend(planning);
    all.extend(utilities::plugin::layers());
    all.extend(sectors::plugin::layers());
    all.extend(ioc::plugin::layers());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_layer_is_in_a_sector_and_every_column_is_titled() {
        let layers = declarations();
        assert!(layers.len() >= 22);
        let mut ids: Vec<&str> = layers.iter().map(|l| l.table.kind).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), layers.len(), "a layer is declared twice");
        for l in &layers {
            assert!(
                sector_by_id(l.sector).is_some(),
                "{}: sector {}",
                l.table.kind,
                l.sector
            );
            for c in l.table.columns {
                assert!(
                    !c.title_vi.is_empty() && !c.title_en.is_empty(),
                    "{}.{} has no title",
                    l.table.kind,
                    c.name
                );
            }
        }
    }

    #[test]
    fn sectors_are_distinct() {
        let mut vi: Vec<&str> = SECTORS.iter().map(|s| s.title_vi).collect();
        vi.sort_unstable();
        vi.dedup();
        assert_eq!(vi.len(), SECTORS.len());
        assert!(sector_by_id("nonsense").is_none());
    }
}
