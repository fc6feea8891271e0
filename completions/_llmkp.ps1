
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'llmkp' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'llmkp'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'llmkp' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the HTTP gateway in the foreground')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Log in to OAuth providers, store API keys, export credentials as environment variables')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Credentials and their state')
            [CompletionResult]::new('quota', 'quota', [CompletionResultType]::ParameterValue, 'Usage per credential and model')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Send one prompt and print the answer as it streams')
            [CompletionResult]::new('count-tokens', 'count-tokens', [CompletionResultType]::ParameterValue, 'Count tokens offline: a text, a file, stdin, or a request body')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'Live model lists of the configured providers, with prices where known')
            [CompletionResult]::new('generate-assets', 'generate-assets', [CompletionResultType]::ParameterValue, 'Write shell completions and man pages (for packagers and the repository)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llmkp;serve' {
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Listen address (loopback by default; 0.0.0.0 in containers) [default: $LLMKP_HOST, else 127.0.0.1]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Listen port [default: $LLMKP_PORT, else $PORT, else 8000]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--enable-request-logging', '--enable-request-logging', [CompletionResultType]::ParameterName, 'Write every request, upstream exchange and stream chunk (secrets redacted) to <home>/logs/detailed_logs/ [default: $ENABLE_REQUEST_LOGGING, else off]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;auth' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Log in to an OAuth provider, or store an API key in <home>/.env')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print stored OAuth credentials as environment variables (for stateless deploys)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Stored OAuth credentials: account, tier, expiry and state (never a token)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llmkp;auth;add' {
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'The API key (otherwise read from stdin when it is not a terminal, else prompted)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Also store <PROVIDER>_API_BASE (a custom OpenAI-compatible provider)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Callback port of the login (default: the provider''s, or <PROVIDER>_OAUTH_PORT)')
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'Account identity for providers without a user-info endpoint (Qwen Code)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--no-browser', '--no-browser', [CompletionResultType]::ParameterName, 'Print the login URL instead of opening a browser')
            [CompletionResult]::new('--manual', '--manual', [CompletionResultType]::ParameterName, 'No local callback: paste the final redirect URL (or the code) instead')
            [CompletionResult]::new('--cookie', '--cookie', [CompletionResultType]::ParameterName, 'iFlow: log in with the BXAuth browser cookie of platform.iflow.cn (read like --api-key)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;auth;export' {
            [CompletionResult]::new('--index', '--index', [CompletionResultType]::ParameterName, 'Only the credential with this file number')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write to this file (0600) instead of stdout')
            [CompletionResult]::new('--out-dir', '--out-dir', [CompletionResultType]::ParameterName, 'Write one file per credential into this directory (0600 each)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every credential (the default)')
            [CompletionResult]::new('--combine', '--combine', [CompletionResultType]::ParameterName, 'With --out-dir: one combined file')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;auth;list' {
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only this provider')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON document on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;auth;remove' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;auth;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Log in to an OAuth provider, or store an API key in <home>/.env')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print stored OAuth credentials as environment variables (for stateless deploys)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Stored OAuth credentials: account, tier, expiry and state (never a token)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llmkp;auth;help;add' {
            break
        }
        'llmkp;auth;help;export' {
            break
        }
        'llmkp;auth;help;list' {
            break
        }
        'llmkp;auth;help;remove' {
            break
        }
        'llmkp;auth;help;help' {
            break
        }
        'llmkp;keys' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'One row per credential: source, priority, state (active, cooling, locked) and usage')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Check every credential with one cheap real call (the model list); exit 0 when all pass')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llmkp;keys;list' {
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only this provider')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON document on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;keys;test' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each credential''s answer')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Credentials tested at the same time')
            [CompletionResult]::new('--min-ok', '--min-ok', [CompletionResultType]::ParameterName, 'Exit 0 when at least N credentials are ok (default: all must be)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON document on stdout')
            [CompletionResult]::new('--no-record', '--no-record', [CompletionResultType]::ParameterName, 'Do not record the results (by default an invalid key is locked out, a working one released)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;keys;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'One row per credential: source, priority, state (active, cooling, locked) and usage')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Check every credential with one cheap real call (the model list); exit 0 when all pass')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llmkp;keys;help;list' {
            break
        }
        'llmkp;keys;help;test' {
            break
        }
        'llmkp;keys;help;help' {
            break
        }
        'llmkp;quota' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Requests and tokens per provider, credential and model in the current window')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llmkp;quota;show' {
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only this provider')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON document on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;quota;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Requests and tokens per provider, credential and model in the current window')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llmkp;quota;help;show' {
            break
        }
        'llmkp;quota;help;help' {
            break
        }
        'llmkp;chat' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model as provider/model (or an alias or fallback group)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model as provider/model (or an alias or fallback group)')
            [CompletionResult]::new('--system', '--system', [CompletionResultType]::ParameterName, 'A system prompt')
            [CompletionResult]::new('--temperature', '--temperature', [CompletionResultType]::ParameterName, 'Sampling temperature')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Upper bound of generated tokens')
            [CompletionResult]::new('--reasoning', '--reasoning', [CompletionResultType]::ParameterName, 'Reasoning effort for models that think (low, medium, high, …)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Go through a running llmkp server (e.g. http://127.0.0.1:8000) instead of in-process; the proxy key comes from PROXY_API_KEY')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Go through a running llmkp server (e.g. http://127.0.0.1:8000) instead of in-process; the proxy key comes from PROXY_API_KEY')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--no-stream', '--no-stream', [CompletionResultType]::ParameterName, 'Wait for the whole answer instead of streaming it')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the full response object (implies --no-stream)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print token usage to stderr when done')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print token usage to stderr when done')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;count-tokens' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model whose tokenizer counts (`provider/model` or bare); models other than OpenAI''s get the o200k_base estimate')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model whose tokenizer counts (`provider/model` or bare); models other than OpenAI''s get the o200k_base estimate')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Count the contents of a file (`-`: stdin)')
            [CompletionResult]::new('--messages', '--messages', [CompletionResultType]::ParameterName, 'Count a request body: OpenAI Chat, Anthropic Messages or OpenAI Responses JSON, or a bare array of messages (`-`: stdin)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The format of --messages [default: detected from its shape]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON document on stdout: model, tokens, encoding, exact')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;models' {
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only this provider')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON document on stdout (the `/v1/models` body)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;generate-assets' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Directory that receives `completions/` and `man/`')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Extra env file, loaded before ./.env and <home>/.env (repeatable)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr [default: $LOG_LEVEL, else info]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (no progress, no warnings)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llmkp;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the HTTP gateway in the foreground')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Log in to OAuth providers, store API keys, export credentials as environment variables')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Credentials and their state')
            [CompletionResult]::new('quota', 'quota', [CompletionResultType]::ParameterValue, 'Usage per credential and model')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Send one prompt and print the answer as it streams')
            [CompletionResult]::new('count-tokens', 'count-tokens', [CompletionResultType]::ParameterValue, 'Count tokens offline: a text, a file, stdin, or a request body')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'Live model lists of the configured providers, with prices where known')
            [CompletionResult]::new('generate-assets', 'generate-assets', [CompletionResultType]::ParameterValue, 'Write shell completions and man pages (for packagers and the repository)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llmkp;help;serve' {
            break
        }
        'llmkp;help;auth' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Log in to an OAuth provider, or store an API key in <home>/.env')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print stored OAuth credentials as environment variables (for stateless deploys)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Stored OAuth credentials: account, tier, expiry and state (never a token)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)')
            break
        }
        'llmkp;help;auth;add' {
            break
        }
        'llmkp;help;auth;export' {
            break
        }
        'llmkp;help;auth;list' {
            break
        }
        'llmkp;help;auth;remove' {
            break
        }
        'llmkp;help;keys' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'One row per credential: source, priority, state (active, cooling, locked) and usage')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Check every credential with one cheap real call (the model list); exit 0 when all pass')
            break
        }
        'llmkp;help;keys;list' {
            break
        }
        'llmkp;help;keys;test' {
            break
        }
        'llmkp;help;quota' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Requests and tokens per provider, credential and model in the current window')
            break
        }
        'llmkp;help;quota;show' {
            break
        }
        'llmkp;help;chat' {
            break
        }
        'llmkp;help;count-tokens' {
            break
        }
        'llmkp;help;models' {
            break
        }
        'llmkp;help;generate-assets' {
            break
        }
        'llmkp;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
