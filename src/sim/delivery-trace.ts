// A delivered message as a trace event: the message's own type is the kind,
// the receiver is the host, and the fields are the ones that say what the
// message asks or answers (src/host/trace-events.ts names them).
import type { RecordEvent } from '../host/trace-events.js';
import type { SimEnvelope } from './kv-wire.js';

export function recordDelivery(record: RecordEvent, from: number, to: number, env: SimEnvelope): void {
  switch (env.kind) {
    case 'raft': {
      const m = env.msg;
      const g = env.group;
      switch (m.type) {
        case 'app': return record('app', to, g, from, m.term, m.index, m.logTerm, m.entries.length, m.commit);
        case 'appResp': return record('appResp', to, g, from, m.term, m.index, m.reject ? 1 : 0, m.rejectHint, m.logTerm);
        case 'heartbeat': return record('heartbeat', to, g, from, m.term, m.commit);
        case 'heartbeatResp': return record('heartbeatResp', to, g, from, m.term);
        case 'vote': return record('vote', to, g, from, m.term, m.index, m.logTerm, m.transfer ? 1 : 0);
        case 'voteResp': return record('voteResp', to, g, from, m.term, m.reject ? 1 : 0);
        case 'preVote': return record('preVote', to, g, from, m.term, m.index, m.logTerm);
        case 'preVoteResp': return record('preVoteResp', to, g, from, m.term, m.reject ? 1 : 0);
        case 'snap': return record('snap', to, g, from, m.term, m.snapshot?.index ?? m.index, m.snapshot?.term ?? m.logTerm);
        case 'timeoutNow': return record('timeoutNow', to, g, from, m.term);
      }
      return;
    }
    case 'vmm': {
      const m = env.msg;
      switch (m.t) {
        case 'acquire': return record('acquire', to, from, m.req, m.page, m.have, m.mode);
        case 'grant': return record('grant', to, from, m.req, m.page, m.version, m.index, m.leaseUs, m.mode);
        case 'refuse': return record('refuse', to, from, m.req, m.page, m.leader, m.version, m.why);
        case 'revoke': return record('revoke', to, from, m.rev, m.page, m.index);
        case 'revoked': return record('revoked', to, from, m.rev, m.page, m.seq, m.data === null ? 0 : 1);
        case 'release': return record('release', to, from, m.req, m.page, m.seq, m.keep ?? 'none');
        case 'released': return record('released', to, from, m.req, m.page, m.version, m.index);
        case 'alloc': return record('alloc', to, from, m.req, m.company, m.pages, m.id);
        case 'alloc-ok': return record('alloc-ok', to, from, m.req, m.firstPage);
        case 'free': return record('free', to, from, m.req, m.addr, m.run ?? '');
        case 'free-owner': return record('free-owner', to, from, m.req, m.addr, m.host);
        case 'free-token': return record('free-token', to, from, m.req, m.addr, m.gen, m.id);
        case 'free-block': return record('free-block', to, from, m.req, m.addr, m.gen, m.id);
        case 'free-ok': return record('free-ok', to, from, m.req, m.addr);
        case 'fetch': return record('fetch', to, from, m.req, m.page, m.have, Object.keys(m.need).length);
        case 'page': return record('page', to, from, m.req, m.page, m.version, m.diffs === null ? -1 : m.diffs.length);
        case 'diff': return record('diff', to, from, m.req, m.page, m.interval, m.diff.length);
        case 'diffed': return record('diffed', to, from, m.req, m.page, m.version);
        case 'lock-acquire': return record('lock-acquire', to, from, m.req, m.id, m.thread, m.token);
        case 'lock-granted': return record('lock-granted', to, from, m.req, m.id, m.thread, m.token, m.index);
        case 'lock-queued': return record('lock-queued', to, from, m.req, m.id, m.thread);
        case 'lock-lost': return record('lock-lost', to, from, m.req, m.id, m.thread, m.token);
        case 'lock-recall': return record('lock-recall', to, from, m.id, m.token);
        case 'lock-release': return record('lock-release', to, from, m.req, m.id, m.thread, m.token);
        case 'lock-released': return record('lock-released', to, from, m.req, m.id, m.thread);
        case 'host-record': return record('host-record', to, from, m.req, m.seq);
        case 'host-recorded': return record('host-recorded', to, from, m.req);
        case 'host-records': return record('host-records', to, from, m.req, m.host);
        case 'host-records-are': return record('host-records-are', to, from, m.req, m.host, m.published.length);
        case 'barrier-arrive': return record('barrier-arrive', to, from, m.req, m.name, m.episode, m.thread, m.parties);
        case 'barrier-wait': return record('barrier-wait', to, from, m.req, m.name, m.episode, m.thread);
        case 'barrier-open': return record('barrier-open', to, from, m.req, m.name, m.episode, m.thread, m.published.length);
        case 'sync-refuse': return record('sync-refuse', to, from, m.req, m.leader, m.why);
      }
      return;
    }
    case 'kv-request': return record('kv-request', to, from, env.group, env.client, env.seq, env.op.op);
    case 'kv-response':
      if (env.status === 'ok') return record('kv-response', to, from, env.client, env.seq, env.index, env.term);
      return record('kv-not-leader', to, from, env.client, env.seq, env.leader);
  }
}
