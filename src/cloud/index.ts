/**
 * `rinse/cloud`: what the cloud needs on its side, with no relay server code pulled in:
 * choosing a relay per user (rendezvous hashing) and answering the relay's URL lookup.
 * `RtmpRelayService` and `RtmpRelayEndpoint` are the seed's names for `RelayService` and
 * `RelayEndpoint`, so the seed swaps its import and nothing else.
 */
export {
  RelayService,
  RelayService as RtmpRelayService,
  parseRelayUrls,
  pickRelay,
  rendezvousScore,
  type RelayEndpoint,
  type RelayServiceLogger,
  type RelayServiceOptions,
  type RtmpRelayEndpoint,
} from './relay-service.js';
export { createCfUrlHandler, type CfUrlLookup } from './cf-url-handler.js';
