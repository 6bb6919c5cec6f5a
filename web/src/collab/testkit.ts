import type { Comment } from "../../../protocol/index.ts";

/** A comment as the API returns it: a board thread by Ann unless told otherwise. */
export const commentRow = (id: string, over: Partial<Comment> = {}): Comment => ({
  id,
  boardId: "b1",
  threadId: null,
  target: "board",
  targetId: null,
  messageId: null,
  x: null,
  y: null,
  authorId: "u1",
  authorName: "Ann",
  body: `comment ${id}`,
  mentions: [],
  reactions: [],
  resolvedAt: null,
  resolvedBy: null,
  editedAt: null,
  createdAt: 1,
  updatedAt: 1,
  ...over,
});
