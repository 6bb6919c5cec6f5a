CREATE TABLE `user_secrets` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`sealed` text NOT NULL,
	`key_version` integer NOT NULL,
	`last4` text,
	`base_url` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `user_secrets_name` ON `user_secrets` (`user_id`,`kind`,`name`);--> statement-breakpoint
CREATE INDEX `user_secrets_version` ON `user_secrets` (`key_version`);