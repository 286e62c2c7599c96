/**
 * `rinse/cloud`: what the cloud needs on its side, with no relay server code pulled in:
 * choosing a relay per user (rendezvous hashing) and answering the relay's URL lookup.
 */
export {
  RelayService,
  parseRelayUrls,
  pickRelay,
  rendezvousScore,
  type RelayEndpoint,
  type RelayServiceOptions,
} from './relay-service.js';
export { createCfUrlHandler, type CfUrlLookup } from './cf-url-handler.js';
