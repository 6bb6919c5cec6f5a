import { type FormEvent, useState } from "react";
import type { Member, Role, User } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { type Store, useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { Avatar } from "../ui/Avatar.tsx";
import { confirm } from "../ui/confirm.tsx";
import { CloseIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import type { BoardActions } from "./actions.ts";

const ROLE_HELP: Record<Role, string> = {
  owner: "Can do anything, including managing members and deleting the board.",
  member: "Can change everything on the board.",
  viewer: "Sees everything, changes nothing.",
};

export function MembersPanel({
  members: membersStore,
  me,
  myRole,
  actions,
  onClose,
}: {
  members: Store<Member[]>;
  me: User;
  myRole: Role;
  actions: BoardActions;
  onClose: () => void;
}) {
  const members = useStore(membersStore);
  const isOwner = myRole === "owner";

  const remove = async (m: Member) => {
    const self = m.userId === me.id;
    const ok = await confirm({
      title: self ? "Leave this board?" : `Remove ${m.name}?`,
      body: self
        ? "You lose access until an owner invites you again."
        : `${m.name} loses access to this board at once, including any tab they have open.`,
      confirmLabel: self ? "Leave board" : "Remove",
    });
    if (!ok) return;
    try {
      await actions.removeMember(m.userId);
    } catch (err) {
      notify(messageOf(err), "error");
    }
  };

  const changeRole = async (m: Member, role: Role) => {
    try {
      await actions.changeRole(m.userId, role);
    } catch (err) {
      notify(messageOf(err), "error");
    }
  };

  return (
    <aside className="side-panel" data-testid="members-panel" aria-label="Members">
      <div className="side-panel-head">
        <h2>Members</h2>
        <button type="button" className="icon-btn" onClick={onClose} aria-label="Close members">
          <CloseIcon />
        </button>
      </div>
      {isOwner && <InviteForm actions={actions} />}
      <ul className="member-list">
        {members.map((m) => (
          <li key={m.userId} className="member" data-testid="member" data-email={m.email}>
            <Avatar name={m.name} color={m.color} size={32} />
            <div className="member-who">
              <span className="strong">
                {m.name}
                {m.userId === me.id && <span className="muted"> (you)</span>}
              </span>
              <span className="muted small ellipsis">{m.email}</span>
            </div>
            {isOwner ? (
              <select
                value={m.role}
                onChange={(e) => void changeRole(m, e.target.value as Role)}
                aria-label={`Role of ${m.name}`}
                title={ROLE_HELP[m.role]}
                data-testid="member-role"
              >
                <option value="owner">Owner</option>
                <option value="member">Member</option>
                <option value="viewer">Viewer</option>
              </select>
            ) : (
              <span className={`role role-${m.role}`} title={ROLE_HELP[m.role]}>
                {m.role}
              </span>
            )}
            {(isOwner || m.userId === me.id) && (
              <button
                type="button"
                className="icon-btn danger"
                onClick={() => void remove(m)}
                title={m.userId === me.id ? "Leave board" : `Remove ${m.name}`}
                aria-label={m.userId === me.id ? "Leave board" : `Remove ${m.name}`}
                data-testid="member-remove"
              >
                <CloseIcon />
              </button>
            )}
          </li>
        ))}
      </ul>
    </aside>
  );
}

function InviteForm({ actions }: { actions: BoardActions }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<"member" | "viewer">("member");
  const { busy, error, run } = useSubmit();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await actions.invite(email, role);
      setEmail("");
    });
  };

  return (
    <form className="invite" onSubmit={submit}>
      <label className="small muted" htmlFor="invite-email">
        Invite someone who has an account
      </label>
      <div className="invite-row">
        <input
          id="invite-email"
          type="email"
          placeholder="teammate@example.com"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          required
          data-testid="invite-email"
        />
        <select
          value={role}
          onChange={(e) => setRole(e.target.value as "member" | "viewer")}
          aria-label="Role"
          data-testid="invite-role"
        >
          <option value="member">Member</option>
          <option value="viewer">Viewer</option>
        </select>
      </div>
      <button type="submit" className="btn btn-primary btn-block" disabled={busy || !email} data-testid="invite-submit">
        {busy ? "Inviting…" : "Invite"}
      </button>
      {error && (
        <div className="error small" role="alert" data-testid="invite-error">
          {error}
        </div>
      )}
    </form>
  );
}
