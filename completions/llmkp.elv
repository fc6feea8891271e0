
use builtin;
use str;

set edit:completion:arg-completer[llmkp] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'llmkp'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'llmkp'= {
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Run the HTTP gateway in the foreground'
            cand auth 'Log in to OAuth providers, store API keys, export credentials as environment variables'
            cand keys 'Credentials and their state'
            cand quota 'Usage per credential and model'
            cand chat 'Send one prompt and print the answer as it streams'
            cand count-tokens 'Count tokens offline: a text, a file, stdin, or a request body'
            cand models 'Live model lists of the configured providers, with prices where known'
            cand generate-assets 'Write shell completions and man pages (for packagers and the repository)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llmkp;serve'= {
            cand --host 'Listen address (loopback by default; 0.0.0.0 in containers) [default: $LLMKP_HOST, else 127.0.0.1]'
            cand --port 'Listen port [default: $LLMKP_PORT, else $PORT, else 8000]'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --enable-request-logging 'Write every request, upstream exchange and stream chunk (secrets redacted) to <home>/logs/detailed_logs/ [default: $ENABLE_REQUEST_LOGGING, else off]'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;auth'= {
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Log in to an OAuth provider, or store an API key in <home>/.env'
            cand export 'Print stored OAuth credentials as environment variables (for stateless deploys)'
            cand list 'Stored OAuth credentials: account, tier, expiry and state (never a token)'
            cand remove 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llmkp;auth;add'= {
            cand --api-key 'The API key (otherwise read from stdin when it is not a terminal, else prompted)'
            cand --base-url 'Also store <PROVIDER>_API_BASE (a custom OpenAI-compatible provider)'
            cand --port 'Callback port of the login (default: the provider''s, or <PROVIDER>_OAUTH_PORT)'
            cand --email 'Account identity for providers without a user-info endpoint (Qwen Code)'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --no-browser 'Print the login URL instead of opening a browser'
            cand --manual 'No local callback: paste the final redirect URL (or the code) instead'
            cand --cookie 'iFlow: log in with the BXAuth browser cookie of platform.iflow.cn (read like --api-key)'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;auth;export'= {
            cand --index 'Only the credential with this file number'
            cand --out 'Write to this file (0600) instead of stdout'
            cand --out-dir 'Write one file per credential into this directory (0600 each)'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --all 'Every credential (the default)'
            cand --combine 'With --out-dir: one combined file'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;auth;list'= {
            cand --provider 'Only this provider'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --json 'One JSON document on stdout'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;auth;remove'= {
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;auth;help'= {
            cand add 'Log in to an OAuth provider, or store an API key in <home>/.env'
            cand export 'Print stored OAuth credentials as environment variables (for stateless deploys)'
            cand list 'Stored OAuth credentials: account, tier, expiry and state (never a token)'
            cand remove 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llmkp;auth;help;add'= {
        }
        &'llmkp;auth;help;export'= {
        }
        &'llmkp;auth;help;list'= {
        }
        &'llmkp;auth;help;remove'= {
        }
        &'llmkp;auth;help;help'= {
        }
        &'llmkp;keys'= {
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'One row per credential: source, priority, state (active, cooling, locked) and usage'
            cand test 'Check every credential with one cheap real call (the model list); exit 0 when all pass'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llmkp;keys;list'= {
            cand --provider 'Only this provider'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --json 'One JSON document on stdout'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;keys;test'= {
            cand --timeout 'Seconds to wait for each credential''s answer'
            cand --concurrency 'Credentials tested at the same time'
            cand --min-ok 'Exit 0 when at least N credentials are ok (default: all must be)'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --json 'One JSON document on stdout'
            cand --no-record 'Do not record the results (by default an invalid key is locked out, a working one released)'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;keys;help'= {
            cand list 'One row per credential: source, priority, state (active, cooling, locked) and usage'
            cand test 'Check every credential with one cheap real call (the model list); exit 0 when all pass'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llmkp;keys;help;list'= {
        }
        &'llmkp;keys;help;test'= {
        }
        &'llmkp;keys;help;help'= {
        }
        &'llmkp;quota'= {
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Requests and tokens per provider, credential and model in the current window'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llmkp;quota;show'= {
            cand --provider 'Only this provider'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --json 'One JSON document on stdout'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;quota;help'= {
            cand show 'Requests and tokens per provider, credential and model in the current window'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llmkp;quota;help;show'= {
        }
        &'llmkp;quota;help;help'= {
        }
        &'llmkp;chat'= {
            cand -m 'Model as provider/model (or an alias or fallback group)'
            cand --model 'Model as provider/model (or an alias or fallback group)'
            cand --system 'A system prompt'
            cand --temperature 'Sampling temperature'
            cand --max-tokens 'Upper bound of generated tokens'
            cand --reasoning 'Reasoning effort for models that think (low, medium, high, …)'
            cand --url 'Go through a running llmkp server (e.g. http://127.0.0.1:8000) instead of in-process; the proxy key comes from PROXY_API_KEY'
            cand --server 'Go through a running llmkp server (e.g. http://127.0.0.1:8000) instead of in-process; the proxy key comes from PROXY_API_KEY'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --no-stream 'Wait for the whole answer instead of streaming it'
            cand --json 'Print the full response object (implies --no-stream)'
            cand -v 'Print token usage to stderr when done'
            cand --verbose 'Print token usage to stderr when done'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;count-tokens'= {
            cand -m 'Model whose tokenizer counts (`provider/model` or bare); models other than OpenAI''s get the o200k_base estimate'
            cand --model 'Model whose tokenizer counts (`provider/model` or bare); models other than OpenAI''s get the o200k_base estimate'
            cand --file 'Count the contents of a file (`-`: stdin)'
            cand --messages 'Count a request body: OpenAI Chat, Anthropic Messages or OpenAI Responses JSON, or a bare array of messages (`-`: stdin)'
            cand --format 'The format of --messages [default: detected from its shape]'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --json 'One JSON document on stdout: model, tokens, encoding, exact'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;models'= {
            cand --provider 'Only this provider'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand --json 'One JSON document on stdout (the `/v1/models` body)'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;generate-assets'= {
            cand --dir 'Directory that receives `completions/` and `man/`'
            cand --home 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]'
            cand --env-file 'Extra env file, loaded before ./.env and <home>/.env (repeatable)'
            cand --log-level 'Log level on stderr [default: $LOG_LEVEL, else info]'
            cand -q 'Only errors on stderr (no progress, no warnings)'
            cand --quiet 'Only errors on stderr (no progress, no warnings)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llmkp;help'= {
            cand serve 'Run the HTTP gateway in the foreground'
            cand auth 'Log in to OAuth providers, store API keys, export credentials as environment variables'
            cand keys 'Credentials and their state'
            cand quota 'Usage per credential and model'
            cand chat 'Send one prompt and print the answer as it streams'
            cand count-tokens 'Count tokens offline: a text, a file, stdin, or a request body'
            cand models 'Live model lists of the configured providers, with prices where known'
            cand generate-assets 'Write shell completions and man pages (for packagers and the repository)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llmkp;help;serve'= {
        }
        &'llmkp;help;auth'= {
            cand add 'Log in to an OAuth provider, or store an API key in <home>/.env'
            cand export 'Print stored OAuth credentials as environment variables (for stateless deploys)'
            cand list 'Stored OAuth credentials: account, tier, expiry and state (never a token)'
            cand remove 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)'
        }
        &'llmkp;help;auth;add'= {
        }
        &'llmkp;help;auth;export'= {
        }
        &'llmkp;help;auth;list'= {
        }
        &'llmkp;help;auth;remove'= {
        }
        &'llmkp;help;keys'= {
            cand list 'One row per credential: source, priority, state (active, cooling, locked) and usage'
            cand test 'Check every credential with one cheap real call (the model list); exit 0 when all pass'
        }
        &'llmkp;help;keys;list'= {
        }
        &'llmkp;help;keys;test'= {
        }
        &'llmkp;help;quota'= {
            cand show 'Requests and tokens per provider, credential and model in the current window'
        }
        &'llmkp;help;quota;show'= {
        }
        &'llmkp;help;chat'= {
        }
        &'llmkp;help;count-tokens'= {
        }
        &'llmkp;help;models'= {
        }
        &'llmkp;help;generate-assets'= {
        }
        &'llmkp;help;help'= {
        }
    ]
    $completions[$command]
}
