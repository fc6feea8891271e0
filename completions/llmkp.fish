# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_llmkp_global_optspecs
    string join \n home= env-file= log-level= q/quiet h/help V/version
end

function __fish_llmkp_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_llmkp_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_llmkp_using_subcommand
    set -l cmd (__fish_llmkp_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c llmkp -n "__fish_llmkp_needs_command" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_needs_command" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_needs_command" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_needs_command" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_needs_command" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_needs_command" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "serve" -d 'Run the HTTP gateway in the foreground'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "auth" -d 'Log in to OAuth providers, store API keys, export credentials as environment variables'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "keys" -d 'Credentials and their state'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "quota" -d 'Usage per credential and model'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "chat" -d 'Send one prompt and print the answer as it streams'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "count-tokens" -d 'Count tokens offline: a text, a file, stdin, or a request body'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "models" -d 'Live model lists of the configured providers, with prices where known'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "generate-assets" -d 'Write shell completions and man pages (for packagers and the repository)'
complete -c llmkp -n "__fish_llmkp_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -l host -d 'Listen address (loopback by default; 0.0.0.0 in containers) [default: $LLMKP_HOST, else 127.0.0.1]' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -l port -d 'Listen port [default: $LLMKP_PORT, else $PORT, else 8000]' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -l enable-request-logging -d 'Write every request, upstream exchange and stream chunk (secrets redacted) to <home>/logs/detailed_logs/ [default: $ENABLE_REQUEST_LOGGING, else off]'
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand serve" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -f -a "add" -d 'Log in to an OAuth provider, or store an API key in <home>/.env'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -f -a "export" -d 'Print stored OAuth credentials as environment variables (for stateless deploys)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -f -a "list" -d 'Stored OAuth credentials: account, tier, expiry and state (never a token)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -f -a "remove" -d 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and not __fish_seen_subcommand_from add export list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l api-key -d 'The API key (otherwise read from stdin when it is not a terminal, else prompted)' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l base-url -d 'Also store <PROVIDER>_API_BASE (a custom OpenAI-compatible provider)' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l port -d 'Callback port of the login (default: the provider\'s, or <PROVIDER>_OAUTH_PORT)' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l email -d 'Account identity for providers without a user-info endpoint (Qwen Code)' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l no-browser -d 'Print the login URL instead of opening a browser'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l manual -d 'No local callback: paste the final redirect URL (or the code) instead'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -l cookie -d 'iFlow: log in with the BXAuth browser cookie of platform.iflow.cn (read like --api-key)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -l index -d 'Only the credential with this file number' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -l out -d 'Write to this file (0600) instead of stdout' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -l out-dir -d 'Write one file per credential into this directory (0600 each)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -l all -d 'Every credential (the default)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -l combine -d 'With --out-dir: one combined file'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from export" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from list" -l provider -d 'Only this provider' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from list" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from list" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from list" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from list" -l json -d 'One JSON document on stdout'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from remove" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from remove" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from remove" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "add" -d 'Log in to an OAuth provider, or store an API key in <home>/.env'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "export" -d 'Print stored OAuth credentials as environment variables (for stateless deploys)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "list" -d 'Stored OAuth credentials: account, tier, expiry and state (never a token)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)'
complete -c llmkp -n "__fish_llmkp_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -f -a "list" -d 'One row per credential: source, priority, state (active, cooling, locked) and usage'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -f -a "test" -d 'Check every credential with one cheap real call (the model list); exit 0 when all pass'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and not __fish_seen_subcommand_from list test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from list" -l provider -d 'Only this provider' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from list" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from list" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from list" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from list" -l json -d 'One JSON document on stdout'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -l timeout -d 'Seconds to wait for each credential\'s answer' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -l concurrency -d 'Credentials tested at the same time' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -l min-ok -d 'Exit 0 when at least N credentials are ok (default: all must be)' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -l json -d 'One JSON document on stdout'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -l no-record -d 'Do not record the results (by default an invalid key is locked out, a working one released)'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "list" -d 'One row per credential: source, priority, state (active, cooling, locked) and usage'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "test" -d 'Check every credential with one cheap real call (the model list); exit 0 when all pass'
complete -c llmkp -n "__fish_llmkp_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and not __fish_seen_subcommand_from show help" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and not __fish_seen_subcommand_from show help" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and not __fish_seen_subcommand_from show help" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and not __fish_seen_subcommand_from show help" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and not __fish_seen_subcommand_from show help" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Requests and tokens per provider, credential and model in the current window'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from show" -l provider -d 'Only this provider' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from show" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from show" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from show" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from show" -l json -d 'One JSON document on stdout'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from help" -f -a "show" -d 'Requests and tokens per provider, credential and model in the current window'
complete -c llmkp -n "__fish_llmkp_using_subcommand quota; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -s m -l model -d 'Model as provider/model (or an alias or fallback group)' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l system -d 'A system prompt' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l temperature -d 'Sampling temperature' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l max-tokens -d 'Upper bound of generated tokens' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l reasoning -d 'Reasoning effort for models that think (low, medium, high, …)' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l url -l server -d 'Go through a running llmkp server (e.g. http://127.0.0.1:8000) instead of in-process; the proxy key comes from PROXY_API_KEY' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l no-stream -d 'Wait for the whole answer instead of streaming it'
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -l json -d 'Print the full response object (implies --no-stream)'
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -s v -l verbose -d 'Print token usage to stderr when done'
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand chat" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -s m -l model -d 'Model whose tokenizer counts (`provider/model` or bare); models other than OpenAI\'s get the o200k_base estimate' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -l file -d 'Count the contents of a file (`-`: stdin)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -l messages -d 'Count a request body: OpenAI Chat, Anthropic Messages or OpenAI Responses JSON, or a bare array of messages (`-`: stdin)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -l format -d 'The format of --messages [default: detected from its shape]' -r -f -a "openai\t''
anthropic\t''
responses\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -l json -d 'One JSON document on stdout: model, tokens, encoding, exact'
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand count-tokens" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand models" -l provider -d 'Only this provider' -r
complete -c llmkp -n "__fish_llmkp_using_subcommand models" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand models" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand models" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand models" -l json -d 'One JSON document on stdout (the `/v1/models` body)'
complete -c llmkp -n "__fish_llmkp_using_subcommand models" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand models" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand models" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand generate-assets" -l dir -d 'Directory that receives `completions/` and `man/`' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand generate-assets" -l home -d 'Home directory: .env, oauth_creds/, state database, logs [default: $XDG_CONFIG_HOME/llmkp]' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand generate-assets" -l env-file -d 'Extra env file, loaded before ./.env and <home>/.env (repeatable)' -r -F
complete -c llmkp -n "__fish_llmkp_using_subcommand generate-assets" -l log-level -d 'Log level on stderr [default: $LOG_LEVEL, else info]' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c llmkp -n "__fish_llmkp_using_subcommand generate-assets" -s q -l quiet -d 'Only errors on stderr (no progress, no warnings)'
complete -c llmkp -n "__fish_llmkp_using_subcommand generate-assets" -s h -l help -d 'Print help'
complete -c llmkp -n "__fish_llmkp_using_subcommand generate-assets" -s V -l version -d 'Print version'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "serve" -d 'Run the HTTP gateway in the foreground'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "auth" -d 'Log in to OAuth providers, store API keys, export credentials as environment variables'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "keys" -d 'Credentials and their state'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "quota" -d 'Usage per credential and model'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "chat" -d 'Send one prompt and print the answer as it streams'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "count-tokens" -d 'Count tokens offline: a text, a file, stdin, or a request body'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "models" -d 'Live model lists of the configured providers, with prices where known'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "generate-assets" -d 'Write shell completions and man pages (for packagers and the repository)'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and not __fish_seen_subcommand_from serve auth keys quota chat count-tokens models generate-assets help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "add" -d 'Log in to an OAuth provider, or store an API key in <home>/.env'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "export" -d 'Print stored OAuth credentials as environment variables (for stateless deploys)'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "list" -d 'Stored OAuth credentials: account, tier, expiry and state (never a token)'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "remove" -d 'Delete a stored credential (an OAuth file or an API-key line of <home>/.env)'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "list" -d 'One row per credential: source, priority, state (active, cooling, locked) and usage'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "test" -d 'Check every credential with one cheap real call (the model list); exit 0 when all pass'
complete -c llmkp -n "__fish_llmkp_using_subcommand help; and __fish_seen_subcommand_from quota" -f -a "show" -d 'Requests and tokens per provider, credential and model in the current window'
