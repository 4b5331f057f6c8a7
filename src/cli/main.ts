/**
 * The `nextdb` command line: a thin frame over commander. Each subcommand
 * lives in its own module and is loaded only when used, so `nextdb --help`
 * stays fast. Subcommands that are not built yet say so and exit non-zero.
 */

import { Command } from 'commander';

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command();
  program.name('nextdb').description('NextDB: a distributed SQL database speaking PostgreSQL').version('0.1.0');

  program
    .command('server')
    .description('run a NextDB server (PostgreSQL wire protocol and HTTP on one port)')
    .argument('[port]', 'port to listen on (default 8080)')
    .option('--data <dir>', 'data directory, created on first start (default ./nextdb-data)')
    .option('--memory', 'keep everything in memory (a throw-away database)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--config <file>', 'JSON config file (see docs/operating/server.md)')
    .option('--tls-cert <file>', 'TLS certificate (PEM); enables SSL with --tls-key')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option(
      '--unix-socket-dir <dir>',
      'also listen on DIR/.s.PGSQL.<port> (e.g. /var/run/postgresql, so `psql -p PORT` works without -h)',
    )
    .option(
      '--auth <method>',
      'authentication for all clients: trust, password, md5, scram-sha-256 (default: trust on loopback, scram-sha-256 otherwise)',
    )
    .option('--max-connections <n>', 'PostgreSQL connections at once (default 100)')
    .option(
      '--idle-in-transaction-timeout <ms>',
      'end sessions idle inside a transaction this long (default 0 = never)',
    )
    .option('--slow-query-ms <ms>', 'log statements slower than this (default 0 = off)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace, silent (default info)')
    .option(
      '--cluster',
      'start a new replicated cluster with this node as its first member (see docs/operating/cluster.md)',
    )
    .option('--join <host:port,...>', 'join the cluster of these members (their SQL/HTTP addresses)')
    .option('--node-id <n>', "this node's id (default: 1 for --cluster, assigned by the cluster for --join)")
    .option('--raft-port <port>', 'port for traffic between nodes (default: port + 10)')
    .option(
      '--peers <id=host:raftport,...>',
      'static cluster: every member with its Raft address, self included (tests, benchmarks)',
    )
    .option('--tick-ms <ms>', 'Raft tick of a cluster node (default 50)')
    .option('--election-ticks <n>', 'election timeout in ticks (default 10: 0.5-1 s)')
    .option(
      '--snapshot-entries <n>',
      'snapshot the replica and truncate the Raft log every N applied entries (default 10000)',
    )
    .action(async (port: string | undefined, opts: Record<string, string | boolean | undefined>) => {
      const { runServer } = await import('./server.ts');
      await runServer(port, opts);
    });

  program
    .command('client')
    .description('interactive SQL shell (psql-like) over the PostgreSQL wire protocol')
    .argument('[hostport]', 'host:port of the server', '127.0.0.1:8080')
    .option('-U, --username <user>', 'user name (default: $PGUSER, else postgres)')
    .option('-d, --dbname <db>', 'database (default: $PGDATABASE, else the user name)')
    .option(
      '-c, --command <sql>',
      'run SQL or a \\ command, then exit (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '-f, --file <file>',
      'run a script file ("-" for stdin), then exit (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(
      async (hostport: string, opts: { username?: string; dbname?: string; command?: string[]; file?: string[] }) => {
        const { runClient } = await import('./client.ts');
        await runClient(hostport, opts, argv);
      },
    );

  program
    .command('benchmark')
    .description('run the benchmark suite (embedded by default, or against --url)')
    .option('--url <url>', 'postgres:// URL of a server to benchmark (NextDB or PostgreSQL)')
    .option('--workload <names>', 'comma-separated workloads, or "all"', 'all')
    .option('--duration <seconds>', 'measured seconds per workload', Number, 4)
    .option('--warmup <seconds>', 'warm-up seconds per workload (excluded)', Number, 1)
    .option('--clients <n>', 'concurrent clients (default 4 embedded, 8 with --url)', Number)
    .option('--rows <n>', 'rows in the data set', Number, 10_000)
    .option('--distribution <d>', 'key choice: uniform or zipfian', 'uniform')
    .option('--seed <n>', 'seed for key choice', Number, 1)
    .option('--data <dir>', 'data directory for the embedded database (default: temporary)')
    .option('--json <file>', 'write the raw figures as JSON')
    .option('--html <file>', 'write a self-contained HTML report')
    .action(async (opts: Record<string, unknown>) => {
      const { runBenchmark } = await import('./benchmark/command.ts');
      const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
      await runBenchmark(defined);
    });

  const cluster = program
    .command('cluster')
    .description('run and inspect replicated NextDB nodes (see docs/operating/cluster.md)');
  cluster
    .command('start')
    .description('start N local replicated nodes (SQL/HTTP on PORT.., Raft on PORT+10..), stop them all on Ctrl-C')
    .option('--nodes <n>', 'number of nodes', '3')
    .option('--port <port>', 'first SQL/HTTP port', '8080')
    .option('--data <dir>', 'directory holding node1, node2, ...', 'nextdb-cluster')
    .action(async (opts: { nodes?: string; port?: string; data?: string }) => {
      const { runClusterStart } = await import('./cluster.ts');
      await runClusterStart(opts);
    });
  cluster
    .command('status')
    .description("members, roles, terms, commit/applied index and lag, read from each node's /metrics")
    .argument('[nodes]', 'comma-separated host:port of the nodes', '127.0.0.1:8080,127.0.0.1:8081,127.0.0.1:8082')
    .action(async (nodes: string) => {
      const { runClusterStatus } = await import('./cluster.ts');
      await runClusterStatus(nodes);
    });
  cluster
    .command('remove')
    .description('remove a member from the cluster (asks the leader through any listed node)')
    .argument('<node>', 'node id')
    .option('--nodes <host:port,...>', 'members to ask', '127.0.0.1:8080,127.0.0.1:8081,127.0.0.1:8082')
    .action(async (node: string, opts: { nodes: string }) => {
      const { runClusterRemove } = await import('./cluster.ts');
      await runClusterRemove(node, opts.nodes);
    });

  await program.parseAsync(argv as string[]);
}
