import { JsonLinesLogger, type Logger } from '@mesh/core';
import { createNetworkMonitor, type NetworkMonitor, PollingNetworkMonitor } from '@mesh/net-monitor';
import { type AgentConfig, relayToken } from './config.js';
import { ControlServer } from './control.js';
import { openInterface, type WgInterface } from './interface.js';
import { MetricsServer } from './metrics.js';
import { type MinimalAgent, type MinimalAgentConfig, type MinimalAgentOverrides, runMinimalAgent } from './minimal.js';
import { reactToNetwork } from './network.js';
import { type AgentStatus, collectStatus } from './status.js';

export interface Agent {
  readonly config: AgentConfig;
  readonly core: MinimalAgent;
  status(): Promise<AgentStatus>;
  /** Stops every peer, the relays and signaling, closes the control socket, removes the interface. Idempotent. */
  stop(): Promise<void>;
}

export interface RunAgentOptions extends Omit<MinimalAgentOverrides, 'device' | 'logger'> {
  logger?: Logger;
  /** Skip creating the interface and use this one (tests). */
  iface?: WgInterface;
  /** Watch the host's network with this monitor (tests); null: none. Default: per `config.network.monitor`. */
  network?: NetworkMonitor | null;
  /** Called on a `down` request on the control socket (`mesh-agent down`); absent → `down` is refused. */
  onStopRequest?: () => void;
}

/**
 * The whole agent: the interface, the core loop (`runMinimalAgent`), the control socket and the
 * metrics endpoint. A failure half-way undoes what was already started.
 */
export async function runAgent(config: AgentConfig, options: RunAgentOptions = {}): Promise<Agent> {
  const log = options.logger ?? new JsonLinesLogger({ level: config.tuning.logLevel });
  const undo: (() => Promise<void>)[] = [];
  const unwind = async () => {
    for (const step of undo.splice(0).reverse())
      await step().catch((error: unknown) => log.warn('stop-failed', { error }));
  };
  try {
    const iface = options.iface ?? (await openInterface(config.interface, { logger: log }));
    undo.push(() => iface.close());
    const core = await runMinimalAgent(minimalConfig(config), { ...options, device: iface.device, logger: log });
    undo.push(() => core.stop());
    const monitor = options.network !== undefined ? options.network : networkMonitor(config, log);
    if (monitor) {
      // Not fatal: an agent that cannot watch the network still repairs on its probes and keepalives.
      await monitor.start().catch((error: unknown) => log.warn('network-monitor-unavailable', { error }));
      const unlisten = reactToNetwork(monitor, {
        ...{ signaler: core.signaler, relays: core.relays, peers: core.peers, log },
        relayUrls: config.relay?.urls ?? [],
      });
      undo.push(async () => {
        unlisten();
        await monitor.stop();
      });
    }
    const status = () => collectStatus(config.publicKey, core.relays, core.peers);
    const control = new ControlServer(config.control.socket, { status, down: options.onStopRequest });
    await control.start();
    undo.push(() => control.stop());
    if (config.metrics) {
      const metrics = new MetricsServer(config.metrics, status);
      await metrics.start();
      undo.push(() => metrics.stop());
    }
    log.info('agent-up', {
      publicKey: config.publicKey.base64,
      interface: config.interface.name,
      address: config.interface.address,
      peers: config.peers.length,
      control: config.control.socket,
    });
    let stopping: Promise<void> | null = null;
    return {
      config,
      core,
      status,
      stop: () => {
        stopping ??= unwind().then(() => log.info('agent-down'));
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** The monitor `config.network.monitor` asks for; our own interface's address is not a network change. */
function networkMonitor(config: AgentConfig, logger: Logger): NetworkMonitor | null {
  const ignoreInterface = (name: string) => name === config.interface.name;
  if (config.network.monitor === 'off') return null;
  if (config.network.monitor === 'poll') return new PollingNetworkMonitor({ logger, ignoreInterface });
  return createNetworkMonitor({ logger, ignoreInterface });
}

/** The core loop's view of a config: the relay token (given, or minted from the secret at every dial) resolved. */
export function minimalConfig(config: AgentConfig): MinimalAgentConfig {
  const { relay } = config;
  return { ...config, relay: relay && { urls: relay.urls, token: relayToken(relay) } };
}
