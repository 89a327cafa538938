import { JsonLinesLogger, type Logger } from '@mesh/core';
import { type AgentConfig, relayToken } from './config.js';
import { ControlServer } from './control.js';
import { openInterface, type WgInterface } from './interface.js';
import { MetricsServer } from './metrics.js';
import { type MinimalAgent, type MinimalAgentConfig, type MinimalAgentOverrides, runMinimalAgent } from './minimal.js';
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

/** The core loop's view of a config: the relay token (given, or minted from the secret at every dial) resolved. */
export function minimalConfig(config: AgentConfig): MinimalAgentConfig {
  const { relay } = config;
  return { ...config, relay: relay && { urls: relay.urls, token: relayToken(relay) } };
}
