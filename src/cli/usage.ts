// Help text of the `keyhole` command.

import { DEFAULTS } from '../config/defaults.ts';
import { OPTIONS } from '../config/options.ts';

export const MAIN_USAGE = `Usage: keyhole [command] [options]

Commands:
  serve    Serve an MCP application over HTTP (default), with the built-in OAuth 2.1
           authorization server guarding every MCP endpoint
  stdio    Serve an MCP application over stdin/stdout, for one local client
  users    Manage the accounts people sign in with: add, list, remove, passwd, disable, enable
  clients  Manage pre-registered OAuth clients: add, list, remove
  keys     Manage the access-token signing keys: rotate, list
  audit    Print the security audit trail: tail
  migrate  Migrate the database to this version's schema (serve also does it at start)

Options:
  -h, --help       Show help (also: keyhole <command> --help)
  -v, --version    Print the version

Every setting can also come from a JSON file (--config FILE) or a KEYHOLE_* environment variable;
flags win over the environment, which wins over the file. See "keyhole serve --help" and
"keyhole <command> --help".
`;

export const SERVE_USAGE = `Usage: keyhole serve [options]

Serves the application's MCP server over Streamable HTTP (every protocol revision on one endpoint)
and the 2024-11-05 HTTP+SSE endpoints, and prints the MCP endpoint URL. Every MCP endpoint requires
an OAuth access token from the built-in authorization server (served on the same origin: discovery,
registration, sign-in and consent pages, tokens); state lives in keyhole.db in the data directory,
or in PostgreSQL (KEYHOLE_DATABASE_URL) and Redis (KEYHOLE_REDIS_URL) shared by several replicas.

Options:
  --port N            TCP port, 0 for any free port (default ${DEFAULTS.server.port})
  --host H            Interface to bind (default ${DEFAULTS.server.host})
  --public-url URL    Public base URL when behind a proxy or TLS terminator
  --data-dir DIR      State directory, created with mode 0700 (default ./${DEFAULTS.server.dataDir})
  --app MODULE        Module exporting createServer(): McpServer (default: the Keyhole demo)
  --config FILE       JSON configuration file
  --log-level LEVEL   debug, info, warn or error (default ${DEFAULTS.log.level})
  --auth MODE         oauth (default): tokens required; none: no authentication, loopback only
  --dev               Development mode (loopback only): creates the user "dev" with a new password
                      and prints it with the URLs to try
  -h, --help          Show this help

Environment:
${OPTIONS.map((o) => `  ${o.env.padEnd(32)} ${o.summary}`).join('\n')}
  KEYHOLE_CONFIG                   JSON configuration file (like --config)
`;

export const STDIO_USAGE = `Usage: keyhole stdio [options]

Serves the application's MCP server on stdin/stdout (newline-delimited JSON-RPC), for a client
that launches this process. Logs go to stderr. Exits when stdin closes.

Options:
  --app MODULE        Module exporting createServer(): McpServer (default: the Keyhole demo)
  --config FILE       JSON configuration file
  --log-level LEVEL   debug, info, warn or error (default ${DEFAULTS.log.level})
  -h, --help          Show this help
`;
