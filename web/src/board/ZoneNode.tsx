import { type NodeProps, NodeResizer, NodeToolbar, Position } from "@xyflow/react";
import { type CSSProperties, memo, useState } from "react";
import { CommentBadge } from "../collab/CommentBadge.tsx";
import { BEHAVIOUR_LABEL, triggerSummary } from "../collab/triggerText.ts";
import { confirm } from "../ui/confirm.tsx";
import { InlineEdit } from "../ui/InlineEdit.tsx";
import { PencilIcon, TrashIcon } from "../ui/icons.tsx";
import { ZONE_COLORS } from "./actions.ts";
import type { ZoneNode } from "./cards.ts";
import { useBoardContext } from "./context.ts";

const TOOLBAR_STYLE = { zIndex: 2000 };

/**
 * A zone: a named, colored area that groups work. Memoized: React Flow re-renders it only when its
 * node object changes (its own row, selection, drag), never for cursors or other zones.
 */
export const ZoneNodeView = memo(function ZoneNodeView({ id, data, selected, dragging }: NodeProps<ZoneNode>) {
  const { canEdit, actions, ui } = useBoardContext();
  const [hover, setHover] = useState(false);
  const { zone } = data;
  const [editing, setEditing] = useState(false);

  const rename = (name: string) => {
    setEditing(false);
    if (name !== zone.name) void actions.patchZone(id, { name });
  };

  const remove = async () => {
    const ok = await confirm({
      title: `Delete zone “${zone.name}”?`,
      body: "Everyone on the board sees it go. Anything placed in it stays on the board.",
      confirmLabel: "Delete zone",
    });
    if (ok) void actions.removeZone(id);
  };

  return (
    <div
      className={`zone${selected ? " selected" : ""}${dragging ? " dragging" : ""}`}
      style={{ "--zone": zone.color } as CSSProperties}
      data-testid="zone"
      data-zone-id={id}
      data-name={zone.name}
      data-color={zone.color}
      data-x={zone.x}
      data-y={zone.y}
      data-width={zone.width}
      data-height={zone.height}
      data-trigger={zone.trigger?.behaviour ?? ""}
      onPointerEnter={() => setHover(true)}
      onPointerLeave={() => setHover(false)}
    >
      {canEdit && (
        <>
          <NodeResizer
            isVisible={selected && !editing}
            minWidth={160}
            minHeight={100}
            color={zone.color}
            handleClassName="zone-handle"
            lineClassName="zone-line"
            onResizeEnd={(_, p) =>
              void actions.patchZone(id, {
                x: Math.round(p.x),
                y: Math.round(p.y),
                width: Math.round(p.width),
                height: Math.round(p.height),
              })
            }
          />
          <NodeToolbar
            isVisible={selected && !editing && !dragging}
            position={Position.Top}
            align="start"
            offset={10}
            // React Flow stacks a toolbar just above its node, and zones sit far below everything
            // (so cards stay on top of them): lift the toolbar above the canvas on its own.
            style={TOOLBAR_STYLE}
          >
            <div className="zone-toolbar nodrag" data-testid="zone-toolbar">
              {ZONE_COLORS.map((c) => (
                <button
                  key={c}
                  type="button"
                  className={`swatch${c === zone.color ? " current" : ""}`}
                  style={{ background: c }}
                  title={`Color ${c}`}
                  aria-label={`Color ${c}`}
                  onClick={() => c !== zone.color && void actions.patchZone(id, { color: c })}
                  data-testid="zone-color"
                />
              ))}
              <span className="toolbar-sep" />
              <button
                type="button"
                className="btn btn-small btn-ghost"
                title="What dropping a worktree here does: a prompt for an agent"
                onClick={() => ui.editTrigger(id)}
                data-testid="zone-trigger"
              >
                ⚡ Trigger…
              </button>
              <button
                type="button"
                className="icon-btn"
                title="Rename"
                onClick={() => setEditing(true)}
                data-testid="zone-rename"
              >
                <PencilIcon />
              </button>
              <button
                type="button"
                className="icon-btn danger"
                title="Delete zone"
                onClick={remove}
                data-testid="zone-delete"
              >
                <TrashIcon />
              </button>
            </div>
          </NodeToolbar>
        </>
      )}
      <div className="zone-header">
        {editing ? (
          <InlineEdit
            value={zone.name}
            onDone={rename}
            onCancel={() => setEditing(false)}
            label="Zone name"
            className="zone-name-input"
          />
        ) : (
          <button
            type="button"
            className="zone-name"
            onDoubleClick={canEdit ? () => setEditing(true) : undefined}
            onKeyDown={(e) => canEdit && e.key === "F2" && setEditing(true)}
            title={canEdit ? "Double-click to rename" : undefined}
            data-testid="zone-name"
          >
            {zone.name}
          </button>
        )}
        {zone.trigger && (
          <button
            type="button"
            className="zone-trigger-badge nodrag"
            title={`${triggerSummary(zone)}${canEdit ? "\n\nClick to edit." : ""}`}
            onClick={canEdit ? () => ui.editTrigger(id) : undefined}
            data-testid="zone-trigger-badge"
            data-behaviour={zone.trigger.behaviour}
          >
            ⚡ {BEHAVIOUR_LABEL[zone.trigger.behaviour]}
          </button>
        )}
        <CommentBadge target="zone" targetId={id} visible={hover || !!selected} className="zone-comment" />
      </div>
    </div>
  );
});
