// Chaînes françaises de la console d'administration (/admin), chargées avec elle.

const adminFr = {
  admin: {
    title: "Administration", sections: "Sections de l'administration", signIn: "Connectez-vous en tant qu'administrateur.",
    denied: "Seuls les administrateurs peuvent ouvrir la console d'administration.",
    tabs: { instance: "Instance", registration: "Inscriptions", limits: "Limites", screening: "Filtrage",
      storage: "Stockage", health: "État", audit: "Journal", federation: "Fédération" },
    loading: "Chargement…",
    names: {
      instance_name: "Nom de l'instance", instance_description: "Description", registration_mode: "Qui peut s'inscrire",
      upload_max_bytes: "Envoi le plus gros (Mio)", upload_max_duration_s: "Clip le plus long (secondes)",
      screening_policy: "Seuils de filtrage",
    },
    modes: { open: "Tout le monde", closed: "Personne (fermé)", invite: "Les personnes ayant un code d'invitation" },
    field: {
      environment: "Environnement ({{variable}}) : {{value}}", overridden: "Modifié ici",
      notOverridden: "Valeur de l'environnement", save: "Enregistrer", saveOf: "Enregistrer {{name}}", reset: "Rétablir",
      resetOf: "Rétablir la valeur de l'environnement pour {{name}}", saved: "{{name}} enregistré.", wasReset: "{{name}} rétabli.",
      notNumber: "Saisissez un nombre positif.", by: "Modifié par @{{handle}} le {{when}}",
    },
    screening: {
      check: "Contrôle", hold: "Retenir à", reject: "Refuser à",
      holdOf: "Seuil de rétention de {{check}}", rejectOf: "Seuil de refus de {{check}}",
      holdAboveReject: "Un seuil de rétention ne peut pas dépasser son seuil de refus.",
      help: "Les scores vont de 0 à 1 ; un seuil de 2 ne se déclenche jamais.",
      checks: { nsfw: "Nudité", blocklist: "Liste de blocage", text: "Légende et hashtags", duplicate: "Copie du clip d'un autre créateur" },
    },
    invites: {
      title: "Codes d'invitation", note: "Pour qui ? (facultatif)", create: "Créer un code", created: "Code {{code}} créé.",
      empty: "Aucun code d'invitation.", revoke: "Révoquer", revokeOf: "Révoquer le code {{code}}", revoked: "Code révoqué.",
      states: { unused: "Inutilisé", used: "Utilisé par @{{handle}}", revoked: "Révoqué" },
      copy: "Copier", copyOf: "Copier le code {{code}}", copied: "Copié.",
      onlyWhenInvite: "Les codes ne sont demandés que lorsque l'inscription se fait sur invitation.",
    },
    storage: {
      tier: "Niveau", objects: "Objets", bytes: "Taille", price: "Prix par Go-mois", monthly: "Par mois",
      total: "Total par mois : {{amount}}", allHot: "Tout en niveau chaud, ce serait {{amount}} ; les niveaux économisent {{saved}}.",
      tiers: { hot: "Chaud", warm: "Tiède", cold: "Froid", replica: "Réplique" }, refresh: "Actualiser",
    },
    health: {
      ready: "Toutes les dépendances répondent.", notReady: "Une dépendance ne répond pas.",
      dependencies: "Dépendances", roles: "Rôles des workers", ok: "OK", failing: "En échec : {{error}}",
      ms: "{{ms}} ms", inProcess: "tourne dans le processus de l'API", elsewhere: "tourne dans ses propres processus",
      states: { idle: "Au repos", behind: "Traite un arriéré", stopped: "Ne tourne pas" },
      pending_one: "{{count}} enregistrement en attente", pending_other: "{{count}} enregistrements en attente",
      group: "Groupe", topic: "Sujet", waiting: "En attente", behind: "Partitions en retard",
      checked: "Vérifié {{when}} ; actualisé toutes les 10 secondes.", neverStarted: "jamais démarré",
    },
    log: {
      empty: "Aucune modification.", when: "Quand", who: "Qui", what: "Quoi", change: "Changement", more: "Afficher plus",
      actions: { set: "a modifié", reset: "a rétabli", invite_created: "a créé l'invitation", invite_revoked: "a révoqué l'invitation" },
      fromTo: "{{old}} → {{new}}",
    },
    federation: {
      intro: "Les serveurs que celui-ci a rencontrés, et ceux pour lesquels vous avez fixé une règle. La règle décide de ce que ce serveur accepte d'eux et leur envoie.",
      servers: "Serveurs distants", server: "Serveur", policy: "Règle", lastSuccess: "Dernier succès", failures: "Échecs d'affilée",
      state: "Envois", dead: "Arrêtés : injoignable", alive: "En cours", never: "Jamais",
      summary: "Dernier succès : {{when}} · Échecs d'affilée : {{failures}} · Envois : {{state}}", helpTitle: "Ce que fait chaque règle",
      empty: "Aucun serveur distant pour l'instant. Ils apparaissent quand des personnes d'ici suivent des comptes d'autres serveurs, ou quand vous ajoutez une règle ci-dessous.",
      policies: { none: "Aucune règle", allow: "Autoriser", silence: "Masquer", reject_media: "Refuser les médias", suspend: "Suspendre" },
      explain: {
        none: "Fédérer normalement (quand seuls les serveurs autorisés fédèrent, celui-ci ne fédère pas).",
        allow: "Quand seuls les serveurs autorisés fédèrent : fédérer avec celui-ci.",
        silence: "Ses vidéos restent hors de Pour toi et de la recherche ; abonnements et réponses arrivent toujours.",
        reject_media: "Fédérer, sans jamais récupérer ni garder ses médias.",
        suspend: "Refuser tout ce qu'il envoie, ne rien lui livrer et supprimer ce qui est stocké de lui.",
      },
      policyOf: "Règle de {{server}}", save: "Enregistrer", saveOf: "Enregistrer la règle de {{server}}",
      saved: "{{server}} : {{policy}}.",
      add: {
        title: "Ajouter un serveur", server: "Nom du serveur", hint: "Un nom d'hôte, suivi de :port s'il n'est pas celui par défaut, p. ex. video.example",
        policy: "Règle du nouveau serveur", submit: "Ajouter",
        invalid: "« {{text}} » n'est pas un nom de serveur : lettres, chiffres, points et tirets, puis :port si besoin.",
      },
      confirm: {
        title_one: "Suspendre {{server}} ?", title_other: "Suspendre {{count}} serveurs ?",
        text: "Rien de ce qu'ils envoient ne sera accepté, rien ne leur sera livré, et ce qui est stocké d'eux ici sera supprimé. Lever la suspension ne le fait pas revenir.",
        yes: "Suspendre", cancel: "Annuler",
      },
      bulk: {
        title: "Importer une liste", help: "Un serveur par ligne. Les lignes commençant par # sont ignorées ; d'une ligne CSV, seul le premier champ est lu.",
        list: "Serveurs, un par ligne", policy: "Règle pour chaque serveur de la liste", submit: "Appliquer à tous",
        progress: "Application…", progressOf: "{{done}} sur {{total}} appliqués",
        done_one: "{{count}} serveur réglé sur {{policy}}.", done_other: "{{count}} serveurs réglés sur {{policy}}.",
        refused_one: "{{count}} ligne n'a pas été appliquée :", refused_other: "{{count}} lignes n'ont pas été appliquées :",
        line: "Ligne {{line}} : {{text}}", notServer: "« {{text}} » n'est pas un nom de serveur", failed: "{{server}} : {{problem}}", nothing: "La liste ne nomme aucun serveur.",
        tooMany: "Au plus {{count}} serveurs à la fois : découpez la liste.",
      },
    },
  },
};

export default adminFr;
