//! Who is asking: [`Principal`] (an authenticated user) and their [`Role`]s. Anonymous requests
//! have no principal.

use std::fmt;
use std::time::SystemTime;

use serde::Serialize;

/// A role bando knows. Role names in tokens that are not one of these are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Urban planner (`planner`).
    Planner,
    /// Cadastral/land officer (`land_officer`), usually limited to some communes.
    LandOfficer,
    /// Operator of the intelligent operations centre (`ioc_operator`).
    IocOperator,
    /// Administrator (`admin`).
    Admin,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 4] = [
        Role::Planner,
        Role::LandOfficer,
        Role::IocOperator,
        Role::Admin,
    ];

    /// The name used in tokens and configuration (`planner`, `land_officer`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Planner => "planner",
            Role::LandOfficer => "land_officer",
            Role::IocOperator => "ioc_operator",
            Role::Admin => "admin",
        }
    }

    /// The role named `name` exactly, or `None` for any other string.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated user, as read from a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The provider's stable user id (`sub`).
    pub subject: String,
    /// The login name (`preferred_username` unless configured otherwise); `sub` when absent.
    pub username: String,
    /// The bando roles the token grants (unknown role names dropped, no duplicates, sorted).
    pub roles: Vec<Role>,
    /// Commune codes the user's work is limited to (the scope claim, `communes` by default);
    /// empty when the token has none. What an empty list means is the access model's decision.
    pub communes: Vec<String>,
    /// When the token expires (`exp`).
    pub expires_at: SystemTime,
}

impl Principal {
    /// Whether the principal holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Planner"), None);
        assert_eq!(Role::parse("offline_access"), None);
        assert_eq!(Role::parse(""), None);
    }
}
