//! `llmkp models`: the ids `/v1/models` would list, live from every configured provider with the
//! model filters applied, with context length and list prices where the bundled table knows them.

use serde_json::json;

use super::output::{print, print_json, table};
use super::{CliError, Context};
use crate::catalog::pricing;
use crate::engine::{Engine, EngineConfig};

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// Only this provider
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,

    /// One JSON document on stdout (the `/v1/models` body)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(context: &Context, args: &ModelsArgs) -> Result<(), CliError> {
    let (config, _) = EngineConfig::load(&context.env, Some(&context.home));
    if let Some(provider) = &args.provider {
        super::require_provider(&config.registry, provider)?;
    }
    let providers: Vec<String> = config.registry.names().into_iter().map(str::to_string).collect();
    let engine = Engine::new(config, Vec::new()).map_err(|e| CliError::usage(e.to_string()))?;
    let mut cards = engine.list_models(false).await;
    if let Some(provider) = &args.provider {
        cards.retain(|c| &c.owned_by == provider);
    }
    for provider in providers.iter().filter(|p| args.provider.as_ref().is_none_or(|only| only == *p)) {
        if !cards.iter().any(|c| &c.owned_by == provider) {
            eprintln!(
                "warning: no models listed for {provider} (its listing failed, is empty, or every model is filtered)"
            );
        }
    }
    if args.json {
        return print_json(&json!({"object": "list", "data": cards}));
    }
    let mut t = table(&["PROVIDER", "MODEL", "CONTEXT", "INPUT $/1M", "OUTPUT $/1M"]);
    for card in &cards {
        let model = card.id.strip_prefix(&format!("{}/", card.owned_by)).unwrap_or(&card.id);
        let info = pricing::lookup(&card.id);
        let price = |rate: Option<f64>| rate.map_or_else(|| "-".to_string(), |r| format!("{r:.2}"));
        t.add_row(vec![
            card.owned_by.clone(),
            model.to_string(),
            info.map_or_else(|| "-".to_string(), |i| i.context_length.to_string()),
            price(info.map(|i| i.rates.input)),
            price(info.map(|i| i.rates.output)),
        ]);
    }
    if cards.is_empty() {
        return Ok(());
    }
    print(&format!("{t}\n"))
}
