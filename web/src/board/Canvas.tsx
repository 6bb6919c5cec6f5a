import {
  applyNodeChanges,
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  type NodeChange,
  type OnNodeDrag,
  Panel,
  ReactFlow,
  useReactFlow,
} from "@xyflow/react";
import { type Dispatch, type PointerEvent, type SetStateAction, useCallback, useEffect, useRef } from "react";
import { PlusIcon } from "../ui/icons.tsx";
import { Cursors } from "./Cursors.tsx";
import type { RoomConnection } from "./room.ts";
import { type BoardActions, ZONE_SIZE, type ZoneNode } from "./useBoard.ts";
import { nodeTypes } from "./ZoneNode.tsx";

const GAP = 40;

/** The first spot at or right of `want` where a new zone overlaps no other, so added zones never stack. */
function freeSpot(nodes: ZoneNode[], want: { x: number; y: number }) {
  let { x } = want;
  const { y } = want;
  for (let tries = 0; tries < 100; tries++) {
    const hit = nodes.find(
      (n) =>
        x < n.position.x + (n.width ?? 0) + GAP &&
        x + ZONE_SIZE.width + GAP > n.position.x &&
        y < n.position.y + (n.height ?? 0) + GAP &&
        y + ZONE_SIZE.height + GAP > n.position.y,
    );
    if (!hit) break;
    x = hit.position.x + (hit.width ?? 0) + GAP;
  }
  return { x, y };
}

const minimapFill = (n: ZoneNode) => `${n.data.zone.color}59`;
const minimapStroke = (n: ZoneNode) => n.data.zone.color;
const FIT = { padding: 0.2, maxZoom: 1 };

export function Canvas({
  nodes,
  setNodes,
  room,
  canEdit,
  actions,
  ready,
}: {
  nodes: ZoneNode[];
  setNodes: Dispatch<SetStateAction<ZoneNode[]>>;
  room: RoomConnection;
  canEdit: boolean;
  actions: BoardActions;
  ready: boolean;
}) {
  const flow = useReactFlow<ZoneNode>();
  const wrapper = useRef<HTMLDivElement>(null);
  /** Last pointer position on screen, so a pan or zoom under a still pointer moves our cursor too. */
  const pointer = useRef<{ x: number; y: number } | null>(null);

  const onNodesChange = useCallback(
    (changes: NodeChange<ZoneNode>[]) => setNodes((ns) => applyNodeChanges(changes, ns)),
    [setNodes],
  );

  const onNodeDragStop: OnNodeDrag<ZoneNode> = useCallback(
    (_e, _node, dragged) => {
      for (const n of dragged) {
        const x = Math.round(n.position.x);
        const y = Math.round(n.position.y);
        if (x !== n.data.zone.x || y !== n.data.zone.y) void actions.patchZone(n.id, { x, y });
      }
    },
    [actions],
  );

  const sendPointer = useCallback(() => {
    const p = pointer.current;
    room.moveCursor(p ? flow.screenToFlowPosition(p) : null);
  }, [flow, room]);

  const onPointerMove = useCallback(
    (e: PointerEvent) => {
      pointer.current = { x: e.clientX, y: e.clientY };
      sendPointer();
    },
    [sendPointer],
  );

  const onPointerLeave = useCallback(() => {
    pointer.current = null;
    room.moveCursor(null);
  }, [room]);

  // The first load arrives after mount: frame it once, then leave the view to the person.
  const framed = useRef(false);
  useEffect(() => {
    if (!ready || framed.current) return;
    framed.current = true;
    if (nodes.length) requestAnimationFrame(() => void flow.fitView(FIT));
  }, [ready, nodes.length, flow]);

  const addZone = async () => {
    const rect = wrapper.current!.getBoundingClientRect();
    const center = flow.screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 });
    const want = { x: center.x - ZONE_SIZE.width / 2, y: center.y - ZONE_SIZE.height / 2 };
    const at = freeSpot(nodes, want);
    const zone = await actions.addZone(at, nodes.length);
    // A zone that had to go beside the others is brought into view, at the current zoom.
    if (zone && at.x !== want.x) {
      void flow.setCenter(at.x + ZONE_SIZE.width / 2, at.y + ZONE_SIZE.height / 2, {
        zoom: flow.getZoom(),
        duration: 300,
      });
    }
  };

  return (
    <div
      className="canvas"
      ref={wrapper}
      onPointerMove={onPointerMove}
      onPointerLeave={onPointerLeave}
      data-testid="canvas"
    >
      <ReactFlow<ZoneNode>
        nodes={nodes}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onNodeDragStop={onNodeDragStop}
        onMove={sendPointer}
        onMoveEnd={(_e, viewport) => room.sendPresence({ viewport })}
        nodesDraggable={canEdit}
        nodesConnectable={false}
        deleteKeyCode={null}
        onlyRenderVisibleElements
        minZoom={0.05}
        maxZoom={2.5}
        fitViewOptions={FIT}
        proOptions={{ hideAttribution: true }}
      >
        <Background variant={BackgroundVariant.Dots} gap={22} size={1.3} color="#cbd5e1" />
        <MiniMap<ZoneNode>
          pannable
          zoomable
          nodeColor={minimapFill}
          nodeStrokeColor={minimapStroke}
          nodeStrokeWidth={2}
          nodeBorderRadius={6}
          maskColor="rgba(241,245,249,0.7)"
        />
        <Controls showInteractive={false} fitViewOptions={FIT} />
        <Cursors presence={room.presence} />
        {canEdit && (
          <Panel position="top-left">
            <button type="button" className="btn btn-floating" onClick={() => void addZone()} data-testid="add-zone">
              <PlusIcon /> Add zone
            </button>
          </Panel>
        )}
        {ready && nodes.length === 0 && (
          <Panel position="top-center" className="canvas-empty">
            {canEdit
              ? "An empty board. Add a zone to group related work, then drag it where it belongs."
              : "Nothing on this board yet."}
          </Panel>
        )}
      </ReactFlow>
    </div>
  );
}
