CREATE TABLE `terminal_events` (
	`id` text PRIMARY KEY NOT NULL,
	`terminal_id` text NOT NULL,
	`runner_id` text NOT NULL,
	`board_id` text NOT NULL,
	`user_id` text,
	`kind` text NOT NULL,
	`detail` text,
	`at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`runner_id`) REFERENCES `runners`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `terminal_events_runner` ON `terminal_events` (`runner_id`,`id`);--> statement-breakpoint
CREATE INDEX `terminal_events_terminal` ON `terminal_events` (`terminal_id`);--> statement-breakpoint
CREATE TABLE `terminal_tickets` (
	`ticket_hash` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`credential` text NOT NULL,
	`terminal_id` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `terminals` (
	`id` text PRIMARY KEY NOT NULL,
	`board_id` text NOT NULL,
	`worktree_id` text NOT NULL,
	`runner_id` text NOT NULL,
	`name` text NOT NULL,
	`status` text DEFAULT 'starting' NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`ended_by` text,
	`ended_at` integer,
	`end_reason` text,
	FOREIGN KEY (`board_id`) REFERENCES `boards`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`worktree_id`) REFERENCES `worktrees`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`runner_id`) REFERENCES `runners`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `terminals_board` ON `terminals` (`board_id`,`status`);--> statement-breakpoint
CREATE INDEX `terminals_worktree` ON `terminals` (`worktree_id`,`status`);--> statement-breakpoint
CREATE INDEX `terminals_runner` ON `terminals` (`runner_id`,`status`);--> statement-breakpoint
ALTER TABLE `runners` ADD `terminal_access` text DEFAULT 'owner' NOT NULL;