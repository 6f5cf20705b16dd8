// The agent workspace in the console: labels, canned responses, search and the contact panel
// (labels.js, canned.js, search.js, contacts.js). This part wires them into the Console with
// few hooks: build, welcome, the frames they answer, and the open conversation changing.

import { Type } from '../core/protocol.js';
import { cannedPart } from './canned.js';
import { contactsPart } from './contacts.js';
import { labelsPart } from './labels.js';
import { searchPart } from './search.js';

export const workspacePart = {
  ...labelsPart,
  ...cannedPart,
  ...searchPart,
  ...contactsPart,

  buildWorkspace() {
    this.buildLabels();
    this.buildCanned();
    this.buildSearch();
    this.buildContact();
  },

  workspaceWelcome(f) {
    this.labelDefs = f.label_defs || [];
    this.renderLabelFilter();
    this.loadCanned();
  },

  /** workspaceFrame handles the workspace's frames; false for everything else. */
  workspaceFrame(f) {
    switch (f.type) {
      case Type.Labels: this.onLabels(f); return true;
      case Type.Canned: this.onCanned(f); return true;
      case Type.Search: this.onSearch(f); return true;
      case Type.Contact: this.onContact(f); return true;
      case Type.History: return this.onReadOnlyHistory(f);
      case Type.Error: return this.onReadOnlyError(f);
    }
    return false;
  },

  renderWorkspace() {
    this.renderLabels();
    if (this.contactFor !== this.current) this.loadContact();
  },
};
