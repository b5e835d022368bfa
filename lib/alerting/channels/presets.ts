/**
 * Built-in webhook payloads. `default` is the Notification itself; the chat presets produce
 * what each product's incoming webhook accepts: Slack and Mattermost take `text` with a
 * coloured attachment (Mattermost reads Slack's format), Microsoft Teams takes a message
 * carrying an Adaptive Card (accepted by Teams Workflows webhooks and the older connectors).
 */

export const WEBHOOK_PRESETS = ["default", "slack", "teams", "mattermost"] as const;
export type WebhookPreset = typeof WEBHOOK_PRESETS[number];

const SLACK_ATTACHMENT = `{
  "text": "{{title}}",
  "attachments": [{
    "fallback": "{{title}}: {{summary}}",
    "color": "{{color}}",
    "title": "{{title}}",
    "title_link": "{{url}}",
    "text": "{{summary}}",
    "fields": [
      { "title": "Severity", "value": "{{severity}}", "short": true },
      { "title": "Device", "value": "{{deviceName}} ({{deviceIp}})", "short": true },
      { "title": "Instance", "value": "{{instance}}", "short": true },
      { "title": "Opened", "value": "{{openedAt}}", "short": true }
    ]
  }]
}`;

const TEAMS_ADAPTIVE_CARD = `{
  "type": "message",
  "attachments": [{
    "contentType": "application/vnd.microsoft.card.adaptive",
    "contentUrl": null,
    "content": {
      "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
      "type": "AdaptiveCard",
      "version": "1.4",
      "body": [
        { "type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true,
          "color": "{{cardColor}}", "text": "{{title}}" },
        { "type": "TextBlock", "wrap": true, "text": "{{summary}}" },
        { "type": "FactSet", "facts": [
          { "title": "Severity", "value": "{{severity}}" },
          { "title": "Device", "value": "{{deviceName}} ({{deviceIp}})" },
          { "title": "Instance", "value": "{{instance}}" },
          { "title": "Opened", "value": "{{openedAt}}" }
        ] }
      ],
      "actions": [{ "type": "Action.OpenUrl", "title": "Open in NMSlite", "url": "{{url}}" }]
    }
  }]
}`;

export const PRESET_TEMPLATES: Record<WebhookPreset, string> = {
  default: "{{json notification}}",
  slack: SLACK_ATTACHMENT,
  mattermost: SLACK_ATTACHMENT,
  teams: TEAMS_ADAPTIVE_CARD,
};
