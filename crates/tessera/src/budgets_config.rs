//! The `[budgets]` table of the server's configuration file: the endpoint
//! budgets (`tessera_authorization_server::budgets`). Each entry is
//! `{ per_second = N, burst = M }`, or `"off"`; an absent entry keeps its
//! default.

use serde::Deserialize;
use tessera_authorization_server::budgets::{BudgetPolicy, Rate};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetsConfig {
    back_channel_per_address: Option<RateConfig>,
    back_channel_per_client: Option<RateConfig>,
    grant_failures: Option<RateConfig>,
    anonymous_authorizations_per_address: Option<RateConfig>,
    anonymous_authorizations_total: Option<RateConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RateConfig {
    Off(Off),
    Rate { per_second: f64, burst: f64 },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Off {
    Off,
}

impl BudgetsConfig {
    /// Applies the configured entries over `policy`'s defaults.
    pub fn apply(&self, policy: &mut BudgetPolicy) -> anyhow::Result<()> {
        let entries = [
            (
                "back_channel_per_address",
                &self.back_channel_per_address,
                &mut policy.back_channel_per_address,
            ),
            (
                "back_channel_per_client",
                &self.back_channel_per_client,
                &mut policy.back_channel_per_client,
            ),
            (
                "grant_failures",
                &self.grant_failures,
                &mut policy.grant_failures,
            ),
            (
                "anonymous_authorizations_per_address",
                &self.anonymous_authorizations_per_address,
                &mut policy.anonymous_authorizations_per_address,
            ),
            (
                "anonymous_authorizations_total",
                &self.anonymous_authorizations_total,
                &mut policy.anonymous_authorizations_total,
            ),
        ];
        for (name, configured, target) in entries {
            match configured {
                None => {}
                Some(RateConfig::Off(Off::Off)) => *target = None,
                Some(RateConfig::Rate { per_second, burst }) => {
                    anyhow::ensure!(
                        per_second.is_finite() && *per_second > 0.0,
                        "budgets.{name}.per_second must be a positive number (or set budgets.{name} = \"off\")"
                    );
                    anyhow::ensure!(
                        burst.is_finite() && *burst >= 1.0,
                        "budgets.{name}.burst must be at least 1"
                    );
                    *target = Some(Rate::new(*per_second, *burst));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> anyhow::Result<BudgetPolicy> {
        let config: BudgetsConfig = toml::from_str(toml_text)?;
        let mut policy = BudgetPolicy::default();
        config.apply(&mut policy)?;
        Ok(policy)
    }

    #[test]
    fn entries_replace_defaults_and_off_turns_one_off() {
        let p = parse(
            "grant_failures = { per_second = 0.5, burst = 10 }\nback_channel_per_client = \"off\"\n",
        )
        .unwrap();
        assert_eq!(p.grant_failures, Some(Rate::new(0.5, 10.0)));
        assert_eq!(p.back_channel_per_client, None);
        assert_eq!(
            p.back_channel_per_address,
            BudgetPolicy::default().back_channel_per_address
        );
    }

    #[test]
    fn nonsense_is_refused_by_name() {
        let e = parse("grant_failures = { per_second = 0, burst = 10 }").unwrap_err();
        assert!(e.to_string().contains("budgets.grant_failures.per_second"));
        let e = parse("grant_failures = { per_second = 1, burst = 0 }").unwrap_err();
        assert!(e.to_string().contains("budgets.grant_failures.burst"));
        assert!(parse("grant_failure = \"off\"").is_err(), "unknown entry");
        assert!(parse("grant_failures = \"of\"").is_err());
    }
}
