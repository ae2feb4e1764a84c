//! Operator roles (操作员角色): what an operator may do beside seeing their groups' orders. A super-administrator
//! (超级管理员) is not a role here but the operator's `is_admin` flag: every project, every role, and the
//! administration of projects, groups and operators.

/// One role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 审核员: approves and rejects orders, sees the full ID number on the review page.
    Reviewer,
    /// 制章员: remakes a made seal from a new impression form.
    Issuer,
    /// 财务: 对账日报, bank statements, refunds, 作废重开 of invoices.
    Finance,
    /// 审计员: reads the audit log (and every order of their groups), changes nothing.
    Auditor,
}

impl Role {
    /// Every role, in the order pages list them.
    pub const ALL: [Role; 4] = [Role::Reviewer, Role::Issuer, Role::Finance, Role::Auditor];

    /// The stable code (`reviewer`, `issuer`, `finance`, `auditor`), as stored and given on the command line.
    pub fn code(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Issuer => "issuer",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
        }
    }

    /// The name on pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Reviewer => "审核员",
            Role::Issuer => "制章员",
            Role::Finance => "财务",
            Role::Auditor => "审计员",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Role::Reviewer => 1,
            Role::Issuer => 2,
            Role::Finance => 4,
            Role::Auditor => 8,
        }
    }
}

/// A set of roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u8);

impl Roles {
    /// No role.
    pub const NONE: Roles = Roles(0);

    /// Just `role`.
    pub fn only(role: Role) -> Roles {
        Roles(role.bit())
    }

    /// Whether `role` is in the set.
    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The set with `role` added.
    pub fn with(self, role: Role) -> Roles {
        Roles(self.0 | role.bit())
    }

    /// Reads a comma-separated list of codes (`reviewer,finance`); blanks are ignored, an unknown code is an
    /// error naming it.
    pub fn parse(text: &str) -> Result<Roles, String> {
        text.split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .try_fold(Roles::NONE, |set, code| {
                Role::ALL
                    .iter()
                    .find(|r| r.code() == code)
                    .map(|r| set.with(*r))
                    .ok_or_else(|| {
                        format!(
                            "未知的角色：{code}（可选：reviewer 审核员、issuer 制章员、finance 财务、auditor 审计员）"
                        )
                    })
            })
    }

    /// The roles in the set, in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.has(*r))
    }

    /// The comma-separated codes, as stored.
    pub fn codes(self) -> String {
        self.iter().map(Role::code).collect::<Vec<_>>().join(",")
    }

    /// The names, `、`-separated, for pages.
    pub fn labels(self) -> String {
        self.iter().map(Role::label).collect::<Vec<_>>().join("、")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let r = Roles::parse(" finance, reviewer ,").unwrap();
        assert!(r.has(Role::Finance) && r.has(Role::Reviewer) && !r.has(Role::Auditor));
        assert_eq!(r.codes(), "reviewer,finance");
        assert_eq!(r.labels(), "审核员、财务");
        assert_eq!(Roles::parse("").unwrap(), Roles::NONE);
        assert_eq!(
            Roles::parse("reviewer,boss").unwrap_err(),
            "未知的角色：boss（可选：reviewer 审核员、issuer 制章员、finance 财务、auditor 审计员）"
        );
        for r in Role::ALL {
            assert_eq!(Roles::parse(r.code()).unwrap(), Roles::only(r));
        }
    }
}
